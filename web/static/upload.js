// Drag and drop of several evidence PDFs, each with its own progress bar and
// the server's verdict. Without this script the plain one-file form still works.
(function () {
  "use strict";
  var section = document.getElementById("dropzone-section");
  if (!section || !window.XMLHttpRequest || !window.FormData) {
    return;
  }
  var zone = document.getElementById("dropzone");
  var picker = document.getElementById("many-files");
  var list = document.getElementById("upload-list");
  var uploadAll = document.getElementById("upload-all");
  var kindOptions = document.getElementById("kind-options");
  var pending = [];
  section.hidden = false;

  function guessKind(name) {
    var lower = name.toLowerCase();
    if (/checklist|mentor/.test(lower)) { return "mentor_checklist"; }
    if (/round[ _-]?2|\br2\b|sa2/.test(lower)) { return "sa_round2"; }
    return "sa_round1";
  }

  function addFile(file) {
    var number = list.children.length + 1;
    var item = document.createElement("li");
    var name = document.createElement("strong");
    name.textContent = file.name;
    var label = document.createElement("label");
    label.htmlFor = "upload-kind-" + number;
    label.textContent = "Kind of " + file.name;
    label.className = "visually-hidden";
    var kind = document.createElement("select");
    kind.id = "upload-kind-" + number;
    kind.appendChild(kindOptions.content.cloneNode(true));
    kind.value = guessKind(file.name);
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    var verdict = document.createElement("span");
    verdict.className = "verdict";
    verdict.textContent = " waiting";
    item.append(name, " ", label, kind, " ", bar, verdict);
    list.appendChild(item);
    pending.push({file: file, kind: kind, bar: bar, verdict: verdict});
    uploadAll.disabled = false;
  }

  function addFiles(files) {
    for (var i = 0; i < files.length; i += 1) { addFile(files[i]); }
  }

  function send(entry) {
    return new Promise(function (resolve) {
      var body = new FormData();
      body.append("kind", entry.kind.value);
      body.append("file", entry.file, entry.file.name);
      entry.kind.disabled = true;
      entry.verdict.textContent = " uploading";
      var request = new XMLHttpRequest();
      request.open("POST", section.dataset.action);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRFToken", section.dataset.csrf);
      request.upload.onprogress = function (event) {
        if (event.lengthComputable) {
          entry.bar.value = Math.round(100 * event.loaded / event.total);
        }
      };
      request.onload = function () {
        var answer = null;
        try { answer = JSON.parse(request.responseText); } catch (ignored) {}
        entry.bar.value = 100;
        if (answer && answer.verdict) {
          show(entry, answer.verdict, answer.message);
        } else if (answer && answer.error) {
          show(entry, "refused", answer.error.message);
        } else {
          show(entry, "refused", "Refused: the server answered " + request.status +
               " " + request.statusText + ".");
        }
        resolve();
      };
      request.onerror = function () {
        show(entry, "refused", "Refused: the upload did not reach the server.");
        resolve();
      };
      request.send(body);
    });
  }

  function show(entry, verdict, message) {
    var kinds = {accepted: "verdict-accepted", accepted_with_warnings:
                 "verdict-warnings", refused: "verdict-refused"};
    entry.verdict.className = "verdict " + (kinds[verdict] || "verdict-refused");
    if (verdict === "refused" && message.indexOf("Refused") !== 0) {
      message = "Refused: " + message;
    }
    entry.verdict.textContent = " " + message;
    entry.verdict.dataset.verdict = verdict;
  }

  function refreshRecord() {
    return fetch(window.location.href, {credentials: "same-origin"})
      .then(function (answer) { return answer.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["documents", "levels"].forEach(function (id) {
          var now = document.getElementById(id);
          var next = fresh.getElementById(id);
          if (now && next) { now.innerHTML = next.innerHTML; }
        });
      });
  }

  uploadAll.addEventListener("click", function () {
    var batch = pending;
    pending = [];
    uploadAll.disabled = true;
    batch.reduce(function (chain, entry) {
      return chain.then(function () { return send(entry); });
    }, Promise.resolve()).then(refreshRecord).then(function () {
      section.dataset.done = String(Number(section.dataset.done || 0) + 1);
    });
  });

  picker.addEventListener("change", function () {
    addFiles(picker.files);
    picker.value = "";
  });
  zone.addEventListener("dragover", function (event) {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("over");
    addFiles(event.dataTransfer.files);
  });
}());
