// WebAuthn ceremonies for authserver's pages (mfa/): fetch options from the server, ask the
// browser, and submit the credential in the page's own form (CSRF token, server redirects).
// Served from static/ because the CSP allows no inline script.
"use strict";

(() => {
  const supported = typeof window.PublicKeyCredential === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  async function fetchOptions(form) {
    const token = form.querySelector('input[name="csrf_token"]').value;
    const response = await fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" },
    });
    if (!response.ok) throw new Error("options " + response.status);
    return response.json();
  }

  function submitWith(form, credential) {
    form.querySelector('input[name="credential"]').value = JSON.stringify(credential.toJSON());
    form.submit();  // form.submit() fires no submit event: the server takes it from here
  }

  // The words come from the page (data-unsupported, data-failed), in the page's language.
  function showError(form, kind) {
    const slot = form.querySelector("[data-webauthn-error]");
    if (slot) { slot.textContent = slot.dataset[kind]; slot.hidden = false; }
  }

  async function create(form) {
    const options = await fetchOptions(form);
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
    return navigator.credentials.create({ publicKey });
  }

  let pendingConditional = null;

  async function get(form, mediation) {
    const options = await fetchOptions(form);
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
    const request = { publicKey };
    if (mediation) {
      pendingConditional = new AbortController();
      request.mediation = mediation;
      request.signal = pendingConditional.signal;
    }
    return navigator.credentials.get(request);
  }

  function onSubmit(form, ceremony) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!supported) { showError(form, "unsupported"); return; }
      if (!form.reportValidity()) return;
      if (pendingConditional) { pendingConditional.abort(); pendingConditional = null; }
      try {
        const credential = await ceremony(form);
        if (credential) submitWith(form, credential);
      } catch (error) {
        showError(form, "failed");
      }
    });
  }

  async function offerInAutofill(form) {
    // WebAuthn Level 3 §5.1.4: conditional mediation shows passkeys in the username
    // field's autofill (autocomplete="username webauthn"); the button stays the fallback.
    if (!supported || !PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    try {
      const credential = await get(form, "conditional");
      if (credential) submitWith(form, credential);
    } catch (error) {
      // Aborted for the button, or dismissed: the page's other ways still work.
    }
  }

  document.querySelectorAll('form[data-webauthn="create"]').forEach((form) => onSubmit(form, create));
  document.querySelectorAll('form[data-webauthn="get"]').forEach((form) => onSubmit(form, (f) => get(f)));
  document.querySelectorAll('form[data-webauthn="passkey"]').forEach((form) => {
    onSubmit(form, (f) => get(f));
    offerInAutofill(form);
  });
})();
