// The landing page's session where the browser keeps no cookie in the platform's frame: the token
// the page was given stays in this frame (sessionStorage where allowed, else memory) and goes to
// the API as a bearer token, never in a URL or a cookie.
"use strict";
(() => {
  const holder = document.getElementById("page-session");
  if (!holder) return;
  const token = holder.dataset.token;
  holder.remove();
  try {
    sessionStorage.setItem("mentorq_session", token);
  } catch (error) {
    // Storage refused in this frame: the token lives in this page only.
  }
  window.mentorqApi = (path, init = {}) =>
    fetch(path, {
      ...init,
      credentials: "omit",
      headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` },
    });
  window
    .mentorqApi("/users/me")
    .then((response) => (response.ok ? response.json() : null))
    .then((me) => {
      if (me) document.body.dataset.apiUser = me.id;
    });
})();
