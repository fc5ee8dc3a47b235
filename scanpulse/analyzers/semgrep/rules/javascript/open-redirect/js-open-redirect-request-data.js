const express = require("express");
const app = express();

app.get("/login", (req, res) => {
  // ruleid: js-open-redirect-request-data
  res.redirect(req.query.next);
});

app.get("/home", (req, res) => {
  // ok: js-open-redirect-request-data
  res.redirect("/dashboard");
});

function go() {
  // ruleid: js-open-redirect-request-data
  window.location.href = new URLSearchParams(location.search).get("to");
}
