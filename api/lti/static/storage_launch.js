// The launch's page without a state cookie: the state and nonce are read back from the platform's
// frame and posted to /lti/launch/verify; a missing answer is posted as an error, which the server
// refuses with its code (lti_storage_unavailable).
"use strict";
(async () => {
  const form = document.getElementById("lti-storage-launch");
  const { target, origin, stateKey, nonceKey } = form.dataset;
  try {
    const frame = await window.ltiStorage.frame(target, origin);
    const [state, nonce] = await Promise.all([
      window.ltiStorage.get(frame, origin, stateKey),
      window.ltiStorage.get(frame, origin, nonceKey),
    ]);
    form.elements.state.value = state;
    form.elements.nonce.value = nonce;
  } catch (error) {
    form.elements.error.value = String((error && error.message) || error).slice(0, 200);
  }
  form.submit();
})();
