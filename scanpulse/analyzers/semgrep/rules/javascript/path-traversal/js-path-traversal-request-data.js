const fs = require("fs");
const path = require("path");
const express = require("express");
const app = express();

app.get("/file", (req, res) => {
  // ruleid: js-path-traversal-request-data
  const data = fs.readFileSync("/srv/files/" + req.query.name);
  // ok: js-path-traversal-request-data
  const safe = fs.readFileSync(path.join("/srv/files", path.basename(req.query.name)));
  // ruleid: js-path-traversal-request-data
  res.sendFile(req.params.file);
  res.send(data + safe);
});

function readConfig() {
  // ok: js-path-traversal-request-data
  return fs.readFileSync("/etc/app/config.json");
}
