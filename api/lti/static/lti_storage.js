// LTI Client Side postMessage storage (1EdTech), the tool's side. `lti.capabilities` goes to the
// window that framed (or opened) this page with target origin "*" (it carries nothing; the platform's
// page may be on another origin than its sign-in); `lti.put_data` and `lti.get_data` go to the
// storage frame with the platform's OIDC authorization origin as target origin, and their answers
// count only from that origin and that frame, matched by message_id.
"use strict";
window.ltiStorage = (() => {
  const WAIT_MS = 3000;

  function messageId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function platformWindow() {
    if (window.parent && window.parent !== window) return window.parent;
    return window.opener || null;
  }

  function ask(target, targetOrigin, answerOrigin, message) {
    return new Promise((resolve, reject) => {
      const id = messageId();
      const timer = setTimeout(() => done(new Error("no_answer")), WAIT_MS);
      function done(error, data) {
        clearTimeout(timer);
        window.removeEventListener("message", listen);
        if (error) reject(error);
        else resolve(data);
      }
      function listen(event) {
        const data = event.data;
        if (event.source !== target || (answerOrigin !== "*" && event.origin !== answerOrigin)) return;
        if (!data || typeof data !== "object" || data.message_id !== id) return;
        if (data.subject !== `${message.subject}.response`) return;
        if (data.error) done(new Error(String(data.error.code || "platform_error")));
        else done(null, data);
      }
      window.addEventListener("message", listen);
      target.postMessage({ ...message, message_id: id }, targetOrigin);
    });
  }

  // The frame keeping the data: the one the capabilities name for lti.put_data, else the
  // login's lti_storage_target ("_parent" or a frame of the parent window).
  async function frame(storageTarget, origin) {
    const parent = platformWindow();
    if (!parent) throw new Error("no_platform_window");
    const capabilities = await ask(parent, "*", "*", { subject: "lti.capabilities" });
    const supported = Array.isArray(capabilities.supported_messages) ? capabilities.supported_messages : [];
    const put = supported.find((m) => m && m.subject === "lti.put_data");
    const get = supported.find((m) => m && m.subject === "lti.get_data");
    if (!put || !get) throw new Error("storage_unsupported");
    const name = put.frame || storageTarget;
    if (name === "_parent") return parent;
    let named = null;
    try {
      named = parent.frames[name] || null;
    } catch (error) {
      named = null;
    }
    if (!named) throw new Error("no_storage_frame");
    return named;
  }

  async function put(target, origin, key, value) {
    await ask(target, origin, origin, { subject: "lti.put_data", key, value });
  }

  async function get(target, origin, key) {
    const answer = await ask(target, origin, origin, { subject: "lti.get_data", key });
    if (answer.key !== key || typeof answer.value !== "string") throw new Error("not_found");
    return answer.value;
  }

  return { frame, put, get };
})();
