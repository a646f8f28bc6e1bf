"use strict";
// Login: JSON post (never a query string), then the console page. The button stays
// disabled until the handler is attached, so a password is never submitted natively.
(async function () {
  const hint = document.getElementById("setup-hint");
  const error = document.getElementById("login-error");
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = {
      name: document.getElementById("login-name").value,
      password: document.getElementById("login-password").value,
    };
    const response = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    document.getElementById("login-password").value = "";
    if (response.ok) {
      location.href = "/";
      return;
    }
    const detail = (await response.json().catch(() => ({}))).detail;
    error.textContent = typeof detail === "string" ? detail : `login failed (${response.status})`;
  });
  document.getElementById("login-submit").disabled = false;
  try {
    const setup = await (await fetch("/api/setup")).json();
    if (!setup.has_operators) {
      hint.textContent = setup.hint;
      hint.hidden = false;
    }
  } catch (e) {
    error.textContent = "console server unreachable";
  }
})();
