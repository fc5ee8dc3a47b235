const params = new URLSearchParams(window.location.search);

function show() {
  const name = params.get("name");
  // ruleid: js-xss-dom-sink
  document.getElementById("greeting").innerHTML = "Hello " + location.hash.slice(1);
  // ok: js-xss-dom-sink
  document.getElementById("greeting").textContent = name;
  // ok: js-xss-dom-sink
  document.getElementById("bio").innerHTML = DOMPurify.sanitize(location.hash);
  // ruleid: js-xss-dom-sink
  document.write(document.referrer);
}

app.get("/hello", (req, res) => {
  // ruleid: js-xss-dom-sink
  res.send("<h1>Hello " + req.query.name + "</h1>");
  // ok: js-xss-dom-sink
  res.send("<h1>Hello " + escapeHtml(req.query.name) + "</h1>");
});
