// Posts the page's one form at once: the signed answer going back to the platform (LTI form_post).
// The button stays for a browser without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("lti-return");
  if (form) form.submit();
});
