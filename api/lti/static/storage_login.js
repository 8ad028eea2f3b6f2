// The login's page (LTI Client Side postMessage storage): the state and nonce go into the
// platform's frame, then the frame goes on to the platform's sign-in. Without an answer the
// browser goes on all the same: its state cookie, if it keeps one, is then its only proof.
"use strict";
(async () => {
  const here = document.getElementById("lti-storage-login");
  const { authUrl, target, origin, state, nonce } = here.dataset;
  try {
    const frame = await window.ltiStorage.frame(target, origin);
    await Promise.all([
      window.ltiStorage.put(frame, origin, `state_${state}`, state),
      window.ltiStorage.put(frame, origin, `nonce_${nonce}`, nonce),
    ]);
  } catch (error) {
    // No storage after all (see above).
  }
  window.location.assign(authUrl);
})();
