const express = require("express");
const { exec, execFile } = require("child_process");
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const app = express();

app.get("/run", (req, res) => {
  exec("convert " + req.query.file + " out.png", () => res.end()); // label: vulnerable CWE-78
  execFile("convert", [req.query.file, "out.png"], () => res.end()); // label: safe CWE-78
});

app.get("/calc", (req, res) => {
  res.json({ v: eval(req.query.expr) }); // label: vulnerable CWE-95
  res.json({ v: JSON.parse(req.query.expr) }); // label: safe CWE-95
});

app.get("/user", (req, res) => {
  db.query(`SELECT * FROM users WHERE email = '${req.query.email}'`); // label: vulnerable CWE-89
  db.query("SELECT * FROM users WHERE email = ?", [req.query.email]); // label: safe CWE-89
});

app.post("/login", async (req, res) => {
  const u = await Users.findOne({ email: req.body.email, password: req.body.password }); // label: vulnerable CWE-943
  const v = await Users.findOne({ email: String(req.body.email) }); // label: safe CWE-943
  res.json({ u, v });
});

app.get("/go", (req, res) => {
  res.redirect(req.query.to); // label: vulnerable CWE-601
  res.redirect("/home"); // label: safe CWE-601
});

app.get("/file", (req, res) => {
  const data = fs.readFileSync(path.join("/srv/files", req.query.name)); // label: vulnerable CWE-22
  const safe = fs.readFileSync(path.join("/srv/files", path.basename(req.query.name))); // label: safe CWE-22
  res.json({ data, safe });
});

app.get("/hello", (req, res) => {
  res.send("<p>Hello " + req.query.name + "</p>"); // label: vulnerable CWE-79
  res.json({ hello: req.query.name }); // label: safe CWE-79
});

function fingerprint(data) {
  const weak = crypto.createHash("md5").update(data).digest("hex"); // label: vulnerable CWE-327
  const strong = crypto.createHash("sha256").update(data).digest("hex"); // label: safe CWE-327
  return weak + strong;
}
