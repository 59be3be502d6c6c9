// SVOM CalDB web interface: small enhancements only; every page works without them.
"use strict";

// A link marked data-submit="<form id>" posts that form (with its CSRF token) instead of
// opening its page: "Sign out" is a link, yet signing out stays a POST.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-submit]");
  const form = link && document.getElementById(link.dataset.submit);
  if (form) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// A "Copy" button after each element marked data-copy (the command lines of a search).
document.addEventListener("DOMContentLoaded", () => {
  for (const source of document.querySelectorAll("[data-copy]")) {
    if (!navigator.clipboard) break;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + (source.dataset.copy || "the text"));
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    });
    source.after(button);
  }
});

// Drag and drop onto the form of a file field marked data-drop (the upload forms): the
// dropped file becomes the field's file, as if chosen with the picker; without this script
// the picker (and the browser's own drop onto the field) still works.
document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("input[type=file][data-drop]")) {
    const zone = field.closest("form") || field;
    const highlight = (on) => field.classList.toggle("dragging", on);
    zone.addEventListener("dragenter", () => highlight(true));
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) highlight(false);
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      highlight(true);
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      highlight(false);
      const files = event.dataTransfer && event.dataTransfer.files;
      if (files && files.length === 1) {
        field.files = files;
        field.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }
});
