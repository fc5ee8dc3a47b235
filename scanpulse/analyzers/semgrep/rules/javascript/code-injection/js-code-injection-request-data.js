const express = require("express");
const app = express();

app.get("/calc", (req, res) => {
  // ruleid: js-code-injection-request-data
  const result = eval(req.query.expr);
  // ruleid: js-code-injection-request-data
  const fn = new Function("x", "return " + req.body.formula);
  // ok: js-code-injection-request-data
  const parsed = JSON.parse(req.query.data);
  res.json({ result, fn: fn(1), parsed });
});

function tick() {
  // ok: js-code-injection-request-data
  setTimeout(() => console.log("tick"), 1000);
}
