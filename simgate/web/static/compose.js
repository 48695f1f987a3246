// simgate dashboard, Compose: the live character and SMS-part counter.
//
// The rules are those of simgate/domain/segments.py (GSM 03.38 / 3GPP TS 23.038), which the
// server applies when it stores the message; a browser test checks that both agree.
// - Every character in the GSM 7-bit default alphabet costs one septet; one of the extension
//   table costs two (escape + code). 160 septets fit one SMS, 153 per part when concatenated.
// - Any other character makes the whole text UCS-2 (UTF-16): 70 code units in one SMS, 67 per
//   part; a character outside the BMP (most emoji) is a surrogate pair, two units.
// - A character is never split between two parts.
"use strict";
(function () {
  var BASIC = new Set(
    "@£$¥èéùìòÇ\nØø\rÅå" +
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
    " !\"#¤%&'()*+,-./" +
    "0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
  );
  var EXTENSION = new Set("\f^{}\\[~]|€");
  var GSM7_SINGLE = 160, GSM7_MULTI_PART = 153, UCS2_SINGLE = 70, UCS2_MULTI_PART = 67;

  function countParts(costs, single, perPart) {
    var total = 0, i;
    for (i = 0; i < costs.length; i++) total += costs[i];
    if (total <= single) return 1;
    var parts = 1, used = 0;
    for (i = 0; i < costs.length; i++) {
      if (used + costs[i] > perPart) { parts += 1; used = 0; }
      used += costs[i];
    }
    return parts;
  }

  // {encoding, parts, units, characters} of a text, as segments.count_segments computes it.
  function countSegments(text) {
    var chars = Array.from(text); // code points, as Python iterates a str
    var gsm = chars.every(function (ch) { return BASIC.has(ch) || EXTENSION.has(ch); });
    var costs = chars.map(function (ch) {
      if (gsm) return EXTENSION.has(ch) ? 2 : 1;
      return ch.codePointAt(0) > 0xffff ? 2 : 1;
    });
    var units = costs.reduce(function (a, b) { return a + b; }, 0);
    var parts = gsm
      ? countParts(costs, GSM7_SINGLE, GSM7_MULTI_PART)
      : countParts(costs, UCS2_SINGLE, UCS2_MULTI_PART);
    return { encoding: gsm ? "GSM-7" : "UCS-2", parts: parts, units: units, characters: chars.length };
  }
  window.simgateSegments = countSegments;

  function describe(info) {
    var single = info.encoding === "GSM-7" ? GSM7_SINGLE : UCS2_SINGLE;
    var per = info.encoding === "GSM-7" ? GSM7_MULTI_PART : UCS2_MULTI_PART;
    var room = info.parts === 1 ? single : info.parts * per;
    return info.characters + " character" + (info.characters === 1 ? "" : "s") + " · " +
      info.encoding + " · " + info.units + "/" + room + " · " +
      info.parts + " SMS";
  }

  function wire() {
    var message = document.getElementById("message");
    var counter = document.getElementById("counter");
    if (!message || !counter) return;
    var update = function () {
      var info = countSegments(message.value);
      counter.textContent = describe(info);
      counter.dataset.parts = String(info.parts);
      counter.dataset.encoding = info.encoding;
      counter.dataset.units = String(info.units);
      counter.classList.toggle("long", info.parts > 1);
    };
    message.addEventListener("input", update);
    update();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
  // After htmx swaps the form back in (a failed send), wire the new textarea.
  document.addEventListener("htmx:afterSwap", wire);
})();
