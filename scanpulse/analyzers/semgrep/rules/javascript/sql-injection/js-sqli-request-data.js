const express = require("express");
const mysql = require("mysql");
const app = express();
const db = mysql.createConnection({});

app.get("/user", (req, res) => {
  // ruleid: js-sqli-request-data
  db.query("SELECT * FROM users WHERE id = " + req.query.id, (e, rows) => res.json(rows));
  // ruleid: js-sqli-request-data
  db.query(`SELECT * FROM users WHERE name = '${req.params.name}'`);
  // ok: js-sqli-request-data
  db.query("SELECT * FROM users WHERE id = ?", [req.query.id]);
});

app.post("/login", async (req, res) => {
  // ruleid: js-sqli-request-data
  const user = await Users.findOne({ name: req.body.name, password: req.body.password });
  // ok: js-sqli-request-data
  const safe = await Users.findOne({ name: String(req.body.name) });
  res.json({ user, safe });
});
