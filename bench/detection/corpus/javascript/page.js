function render() {
  const q = new URLSearchParams(window.location.search).get("q");
  document.getElementById("title").innerHTML = "Results for " + q; // label: vulnerable CWE-79
  document.getElementById("title").textContent = "Results for " + q; // label: safe CWE-79
  document.getElementById("bio").innerHTML = DOMPurify.sanitize(location.hash.slice(1)); // label: safe CWE-79
  window.location.href = new URLSearchParams(location.search).get("next"); // label: vulnerable CWE-601
  setTimeout(location.hash.slice(1), 10); // label: vulnerable CWE-95
  setTimeout(() => render(), 10); // label: safe CWE-95
}
