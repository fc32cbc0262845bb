/*
 * Offline stand-ins for Ground Truth's crowd HTML elements (gtctl preview).
 *
 * The real elements come from https://assets.crowd.aws/crowd-html-elements.js and need the network;
 * these render, in the page's own DOM (no shadow root, so `chromium --dump-dom` shows them), what a
 * worker needs to judge the template: the header, the image, the categories and the instructions.
 * They do not submit anything. Element and attribute names follow the Crowd HTML Elements
 * Reference (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-ui-template-reference.html).
 */
(function () {
  "use strict";

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function parseList(value) {
    if (!value) return [];
    try {
      const parsed = JSON.parse(value);
      if (Array.isArray(parsed)) {
        return parsed.map(function (item) {
          return typeof item === "string" ? item : (item && (item.label || item.name)) || String(item);
        });
      }
    } catch (e) {
      /* not JSON: a comma-separated list */
    }
    return String(value).split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function markLoaded(img) {
    function done() {
      if (img.naturalWidth > 0) img.setAttribute("data-preview-loaded", "true");
      else img.setAttribute("data-preview-loaded", "false");
    }
    if (img.complete) done();
    else {
      img.addEventListener("load", done);
      img.addEventListener("error", done);
    }
  }

  function section(title, children) {
    const box = make("section", "crowd-preview-instructions");
    box.appendChild(make("h3", "crowd-preview-instructions-title", title));
    children.forEach(function (child) { box.appendChild(child); });
    return box;
  }

  function moveInstructions(host, into) {
    const kinds = [
      ["short-instructions", "Short instructions"],
      ["full-instructions", "Full instructions"],
      ["short-summary", "Summary"],
      ["detailed-instructions", "Instructions"],
      ["positive-example", "Good example"],
      ["negative-example", "Bad example"],
    ];
    kinds.forEach(function (kind) {
      Array.prototype.slice.call(host.querySelectorAll(kind[0])).forEach(function (node) {
        const title = node.getAttribute("header") || kind[1];
        const body = make("div", "crowd-preview-instructions-body");
        while (node.firstChild) body.appendChild(node.firstChild);
        node.appendChild(section(title, [body]));
        into.appendChild(node);
      });
    });
  }

  function taskElement(options) {
    return class extends HTMLElement {
      connectedCallback() {
        if (this.dataset.previewRendered) return;
        this.dataset.previewRendered = "true";
        const card = make("div", "crowd-preview-task");
        card.appendChild(make("div", "crowd-preview-element", "<" + this.tagName.toLowerCase() + ">"));
        const header = this.getAttribute("header");
        if (header) card.appendChild(make("h2", "crowd-preview-header", header));
        const layout = make("div", "crowd-preview-layout");
        const main = make("div", "crowd-preview-main");
        const side = make("div", "crowd-preview-side");
        const src = this.getAttribute("src");
        if (src) {
          const img = make("img", "crowd-preview-image");
          img.alt = "the object to label";
          img.src = src;
          main.appendChild(img);
        }
        Array.prototype.slice.call(this.querySelectorAll("classification-target")).forEach(function (t) {
          main.appendChild(t);
        });
        const labels = parseList(this.getAttribute(options.labelsAttribute));
        if (labels.length) {
          const list = make("fieldset", "crowd-preview-categories");
          list.appendChild(make("legend", "", options.legend));
          const name = this.getAttribute("name") || "label";
          labels.forEach(function (label, index) {
            const row = make("label", "crowd-preview-category");
            const input = make("input");
            input.type = options.multiple ? "checkbox" : "radio";
            input.name = name;
            input.value = String(index);
            row.appendChild(input);
            row.appendChild(document.createTextNode(" " + label));
            list.appendChild(row);
          });
          side.appendChild(list);
        }
        moveInstructions(this, side);
        layout.appendChild(main);
        layout.appendChild(side);
        card.appendChild(layout);
        this.insertBefore(card, this.firstChild);
      }
    };
  }

  class CrowdForm extends HTMLElement {
    connectedCallback() {
      if (this.dataset.previewRendered) return;
      this.dataset.previewRendered = "true";
      const submit = make("button", "crowd-preview-submit", "Submit (disabled in the preview)");
      submit.type = "button";
      submit.disabled = true;
      this.appendChild(submit);
    }
  }

  class CrowdInstructions extends HTMLElement {
    connectedCallback() {
      if (this.dataset.previewRendered) return;
      this.dataset.previewRendered = "true";
      const box = make("div", "crowd-preview-task");
      const title = this.getAttribute("link-text") || "Instructions";
      box.appendChild(make("h2", "crowd-preview-header", title));
      moveInstructions(this, box);
      this.insertBefore(box, this.firstChild);
    }
  }

  const elements = {
    "crowd-form": CrowdForm,
    "crowd-instructions": CrowdInstructions,
    "crowd-image-classifier": taskElement({ labelsAttribute: "categories", legend: "Categories", multiple: false }),
    "crowd-image-classifier-multi-select": taskElement({ labelsAttribute: "categories", legend: "Categories", multiple: true }),
    "crowd-classifier": taskElement({ labelsAttribute: "categories", legend: "Categories", multiple: false }),
    "crowd-classifier-multi-select": taskElement({ labelsAttribute: "categories", legend: "Categories", multiple: true }),
    "crowd-bounding-box": taskElement({ labelsAttribute: "labels", legend: "Labels (draw a box for each)", multiple: true }),
    "crowd-semantic-segmentation": taskElement({ labelsAttribute: "labels", legend: "Labels (paint each)", multiple: true }),
    "crowd-instance-segmentation": taskElement({ labelsAttribute: "labels", legend: "Labels", multiple: true }),
    "crowd-keypoint": taskElement({ labelsAttribute: "keypoints", legend: "Key points", multiple: true }),
    "crowd-polygon": taskElement({ labelsAttribute: "labels", legend: "Labels", multiple: true }),
  };
  Object.keys(elements).forEach(function (tag) {
    if (!customElements.get(tag)) customElements.define(tag, elements[tag]);
  });

  function markImages() {
    Array.prototype.slice.call(document.images).forEach(markLoaded);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markImages);
  else markImages();
  window.addEventListener("load", markImages);
})();
