// Progressive enhancement of the verification page: drop a file, and see the result without a page load.
// Without this script the form posts and the server answers with the whole page; with it the same endpoint
// answers with the result fragment (?view=result), rendered by the same template.
"use strict";
(function () {
  document.documentElement.classList.add("js");
  const form = document.getElementById("verify-form");
  const result = document.getElementById("result");
  if (!form || !result || !window.fetch || !window.FormData) return;
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");

  async function send(target, data) {
    result.classList.add("busy");
    result.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(target.getAttribute("action") + "?view=result", { method: "POST", body: data });
      const html = await response.text();
      const doc = new DOMParser().parseFromString(html, "text/html");
      // An error page (413, 415, ...) carries its message in .message; a result is the fragment itself.
      if (!response.ok) {
        const message = doc.querySelector(".message");
        const p = document.createElement("p");
        p.className = "recipient bad";
        p.setAttribute("role", "alert");
        p.textContent = message ? message.textContent : "The server answered " + response.status + ".";
        result.replaceChildren(p);
      } else {
        result.replaceChildren(...doc.body.childNodes);
      }
      wire();
      const heading = result.querySelector("#verdict") || result.querySelector("[role=status]");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    } catch (error) {
      const p = document.createElement("p");
      p.className = "recipient bad";
      p.setAttribute("role", "alert");
      p.textContent = "The server could not be reached: " + error.message;
      result.replaceChildren(p);
    } finally {
      result.classList.remove("busy");
      result.removeAttribute("aria-busy");
    }
  }

  function wire() {
    for (const theirs of result.querySelectorAll("form.theirs")) {
      theirs.addEventListener("submit", function (event) {
        event.preventDefault();
        const answer = theirs.querySelector("#recipient-answer");
        fetch(theirs.getAttribute("action") + "?view=result", { method: "POST", body: new FormData(theirs) })
          .then((r) => r.text())
          .then((html) => {
            const doc = new DOMParser().parseFromString(html, "text/html");
            const found = doc.querySelector("#recipient-answer") || doc.querySelector(".message");
            if (answer) answer.remove();
            if (found) {
              const p = document.createElement("p");
              p.id = "recipient-answer";
              p.className = found.className || "recipient bad";
              p.setAttribute("role", "status");
              p.replaceChildren(...found.childNodes);
              theirs.appendChild(p);
            }
          });
      });
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(form, new FormData(form));
  });

  if (drop && input) {
    for (const name of ["dragenter", "dragover"]) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("over");
      });
    }
    for (const name of ["dragleave", "drop"]) {
      drop.addEventListener(name, function () {
        drop.classList.remove("over");
      });
    }
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        send(form, new FormData(form));
      }
    });
  }
  wire();
})();
