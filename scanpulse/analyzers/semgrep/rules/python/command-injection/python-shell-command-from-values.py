import asyncio
import os
import shlex
import subprocess
import sys


def backup(folder):
    # ruleid: python-shell-command-from-values
    subprocess.run("tar czf backup.tgz " + folder, shell=True, check=True)
    # ruleid: python-shell-command-from-values
    os.system(f"convert {folder}/in.png out.png")
    # ruleid: python-shell-command-from-values
    os.popen("du -sh %s" % folder).read()
    command = "rm -rf {}".format(folder)
    # ruleid: python-shell-command-from-values
    subprocess.check_call(command, shell=True)
    # ruleid: python-shell-command-from-values
    subprocess.run(["sh", "-c", "ls " + folder], check=True)
    # ruleid: python-shell-command-from-values
    subprocess.getoutput("wc -l " + sys.argv[1])


async def archive(name):
    # ruleid: python-shell-command-from-values
    await asyncio.create_subprocess_shell(f"zip -r {name}.zip {name}")


def safe(folder):
    # ok: python-shell-command-from-values
    subprocess.run("tar czf backup.tgz " + shlex.quote(folder), shell=True, check=True)
    # ok: python-shell-command-from-values
    subprocess.run(["tar", "czf", "backup.tgz", folder], check=True)
    # ok: python-shell-command-from-values
    os.system("make clean")
    constant = "git gc --auto"
    # ok: python-shell-command-from-values
    subprocess.run(constant, shell=True, check=True)
    # ok: python-shell-command-from-values
    subprocess.run(shlex.join(["ls", "-l", folder]), shell=True, check=True)
    # ok: python-shell-command-from-values
    subprocess.run("ls -l {}".format(shlex.quote(folder)), shell=True, check=True)
    # ok: python-shell-command-from-values
    subprocess.run(["ls", folder], shell=False, check=True)


def half_quoted(a, b):
    # ruleid: python-shell-command-from-values
    subprocess.run("cp " + shlex.quote(a) + " " + b, shell=True, check=True)
    # ok: python-shell-command-from-values
    subprocess.run("cp " + shlex.quote(a) + " " + shlex.quote(b), shell=True, check=True)


def formatted(a):
    # ruleid: python-shell-command-from-values
    subprocess.run(f"ls -l {shlex.quote(a)} {a}", shell=True, check=True)
