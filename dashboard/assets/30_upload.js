/* The Upload page's files, sent with byte-level progress (see dashboard/pages/upload.py
   and dashboard/upload_route.py).

   One listener (window, capture phase: before Dash's upload component, which would read
   each file into base64 and send it through a callback with no progress) takes every
   file chosen or dropped in the zone (#upload-box). Files over the limit get a line at
   once and are not sent (checked here, in the browser). The others are sent one by one
   with XMLHttpRequest to the upload route (the box's data-upload-url), the raw file as
   the body and its name in X-Upload-Name; a Bootstrap progress bar shows the bytes sent
   of the total (MiB) and the percent. When all are answered, the answers go into the
   upload-done store (dash_clientside.set_props), whose callback shows the results. */
(function () {
  if (window.lrtempoUpload) { return; }
  const BOX = "#upload-box";
  const UNITS = [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];

  /* Bytes in binary units, named as such (as dashboard.uploads.size_text). */
  function size(n) {
    for (const [unit, scale] of UNITS) {
      if (n >= scale) { return parseFloat((n / scale).toFixed(unit === "KiB" ? 0 : 2)) + " " + unit; }
    }
    return n + " bytes";
  }
  /* Sent / total, both in MiB with the same decimals (the bar's text). */
  function mib(sent, total) {
    const d = total >= 100 * 2 ** 20 ? 0 : total >= 2 ** 20 ? 1 : 2;
    return (sent / 2 ** 20).toFixed(d) + " of " + (total / 2 ** 20).toFixed(d) + " MiB";
  }
  function set(id, props) {
    const dc = window.dash_clientside;
    // Not on the Upload page any more (the visitor went on while files were sent): the
    // files are still read and kept, the results show in Review.
    if (dc && dc.set_props && document.querySelector(BOX)) { dc.set_props(id, props); }
  }
  function errorLine(text) {
    return {namespace: "dash_html_components", type: "Div",
      props: {children: text, className: "alert alert-danger upload-error py-2 mb-2"}};
  }

  let busy = false;
  const queue = [];

  /* One file to the route; resolves to its answer's results (errors included). */
  function send(url, file, onBytes) {
    return new Promise(resolve => {
      const failed = why => resolve([{file: file.name, runs: [], same: false,
        errors: [file.name + ": " + why]}]);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-Upload-Name", encodeURIComponent(file.name));
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = e => onBytes(e.loaded);
      xhr.upload.onload = () => onBytes(file.size);
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (body && Array.isArray(body.results)) { resolve(body.results); return; }
        const text = (xhr.responseText || "").trim().split("\n")[0].slice(0, 300);
        failed("the server answered " + xhr.status + (text ? " (" + text + ")" : ""));
      };
      xhr.onerror = () => failed("the upload failed (the connection was lost); send it again");
      xhr.onabort = () => failed("the upload was cancelled");
      xhr.send(file);
    });
  }

  async function sendAll(box, files) {
    const url = box.dataset.uploadUrl;
    const total = files.reduce((s, f) => s + f.size, 0);
    const count = files.length + " file" + (files.length > 1 ? "s" : "");
    let before = 0, shown = -1, last = 0;
    const show = (sent, text, force) => {
      const pct = total ? Math.floor(100 * sent / total) : 100;
      const now = Date.now();
      if (!force && pct === shown && now - last < 250) { return; }
      shown = pct; last = now;
      set("upload-progress", {value: pct, label: pct + " %"});
      set("upload-pending", {children: mib(sent, total) + " sent (" + pct + " %) · " + text});
    };
    set("upload-progress-box", {style: {display: "block"}});
    show(0, "sending " + count, true);
    const results = [];
    for (const file of files) {
      const answer = await send(url, file, loaded => {
        const sent = before + Math.min(loaded, file.size);
        const all = sent - before >= file.size;
        show(sent, (all ? "the server is reading " : "sending ") + file.name, all);
      });
      before += file.size;
      results.push(...answer);
    }
    show(total, count + " (" + size(total) + ") read; showing the results", true);
    set("upload-done", {data: {sent: Date.now(), results: results}});
  }

  async function drain() {
    if (busy) { return; }
    busy = true;
    try {
      while (queue.length) {
        const [box, files] = queue.shift();
        await sendAll(box, files);
      }
    } finally {
      busy = false;
    }
  }

  function take(box, list) {
    const all = Array.from(list || []);
    if (!all.length) { return; }
    const limit = Number(box.dataset.uploadLimit);
    const big = all.filter(f => f.size > limit);
    const ok = all.filter(f => f.size <= limit);
    set("upload-refused", {children: big.map(f => errorLine(
      f.name + ": " + size(f.size) + " is over the " + size(limit) + " upload limit; " +
      "not sent (checked in your browser)"))});
    if (!ok.length) { return; }
    queue.push([box, ok]);
    drain();
  }

  const zone = e => e.target && e.target.closest && e.target.closest(BOX);
  window.addEventListener("change", e => {
    const box = zone(e);
    if (!box || !e.target.files) { return; }
    e.stopPropagation();  // Dash's upload component does not read the files
    const files = Array.from(e.target.files);
    e.target.value = "";  // the same file chosen again is a new choice
    take(box, files);
  }, true);
  window.addEventListener("drop", e => {
    const box = zone(e);
    if (!box) { return; }
    e.preventDefault();  // not opened by the browser
    e.stopPropagation();
    take(box, e.dataTransfer && e.dataTransfer.files);
  }, true);
  window.lrtempoUpload = {size: size, pending: () => queue.length + (busy ? 1 : 0)};
})();
