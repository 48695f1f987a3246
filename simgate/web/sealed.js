"use strict";
// Decrypts a sealed simgate message in the browser. The scheme mirrors
// simgate/services/sealing.py: key = PBKDF2-SHA256(normalised passphrase, salt, iterations),
// 32 bytes; plaintext = AES-256-GCM-decrypt(key, nonce, ciphertext with tag, aad). The key the
// recipient types never leaves this page; the server only ever hands out ciphertext.
(function () {
  const form = document.getElementById("unlock");
  const input = document.getElementById("key");
  const button = document.getElementById("decrypt");
  const status = document.getElementById("status");
  const output = document.getElementById("message");
  let sealed = null;

  function show(text, kind) {
    status.textContent = text;
    status.className = kind;
  }

  // Same rule as normalize_passphrase(): spaces and dashes dropped, lower case.
  function normalize(passphrase) {
    return passphrase.replace(/[\s-]+/g, "").toLowerCase();
  }

  function bytes(base64url) {
    const padded = base64url.replace(/-/g, "+").replace(/_/g, "/")
      + "=".repeat((4 - (base64url.length % 4)) % 4);
    const binary = atob(padded);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      out[i] = binary.charCodeAt(i);
    }
    return out;
  }

  async function load() {
    const url = window.location.pathname.replace(/\/+$/, "") + "/data";
    const response = await fetch(url, { cache: "no-store", credentials: "omit" });
    if (response.status === 404) {
      throw new Error("This message does not exist or has been deleted.");
    }
    if (!response.ok) {
      throw new Error("The message could not be loaded. Try again later.");
    }
    return response.json();
  }

  async function decrypt(data, passphrase) {
    const encoder = new TextEncoder();
    const material = await crypto.subtle.importKey(
      "raw", encoder.encode(normalize(passphrase)), "PBKDF2", false, ["deriveKey"]);
    const key = await crypto.subtle.deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt: bytes(data.salt), iterations: data.iterations },
      material, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes(data.nonce), additionalData: encoder.encode(data.aad),
        tagLength: 128 },
      key, bytes(data.ciphertext));
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (!window.crypto || !window.crypto.subtle) {
      show("This browser cannot decrypt here: open the link over HTTPS.", "error");
      return;
    }
    const passphrase = input.value;
    if (!normalize(passphrase)) {
      show("Enter the key the sender gave you.", "error");
      return;
    }
    button.disabled = true;
    show("Decrypting\u2026", "busy");
    try {
      sealed = sealed || await load();
    } catch (error) {
      show(error.message, "error");
      button.disabled = false;
      return;
    }
    try {
      output.textContent = await decrypt(sealed, passphrase);
      output.hidden = false;
      show("Message decrypted.", "ok");
    } catch (error) {
      output.hidden = true;
      output.textContent = "";
      show("Wrong key: the message could not be decrypted. Check the key and try again.",
        "error");
    } finally {
      button.disabled = false;
    }
  });
}());
