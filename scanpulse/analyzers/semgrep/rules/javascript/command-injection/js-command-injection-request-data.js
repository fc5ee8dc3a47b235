const { exec, execFile } = require("child_process");
const express = require("express");
const app = express();

app.get("/ping", (req, res) => {
  const host = req.query.host;
  // ruleid: js-command-injection-request-data
  exec(`ping -c 1 ${host}`, (err, out) => res.send(out));
  // ok: js-command-injection-request-data
  execFile("ping", ["-c", "1", host], (err, out) => res.send(out));
});

function cleanup() {
  // ok: js-command-injection-request-data
  exec("rm -rf /tmp/cache");
}
