/* The pages' state in their URL, so a view can be shared and reloaded: the Review
   filters, the Run and Compare curve controls (and the Run zoom). replaceState does not
   notify dcc.Location, so the page keeps its state (no re-render, no history entry).
   Used as clientside callbacks: ClientsideFunction("lrtempo_url", "review" | "run" |
   "compare"); each returns "" for a hidden dummy output. */
(function () {
  "use strict";

  // Replace the address's query by q (no "?" when q is empty); "" for the dummy output.
  function setQuery(q) {
    var s = q.toString();
    var url = window.location.pathname + (s ? "?" + s : "");
    if (window.location.pathname + window.location.search !== url) {
      window.history.replaceState(window.history.state, "", url);
    }
    return "";
  }

  function logOn(logy) {
    return Array.isArray(logy) && logy.indexOf("log") >= 0;
  }

  // The curve controls of the Run and Compare pages, as dashboard.controls reads them.
  function setCurves(q, smoothing, logy, x) {
    if (typeof smoothing === "number" && smoothing !== 0.6) {
      q.set("smoothing", String(smoothing));
    }
    if (logOn(logy)) { q.set("logy", "1"); }
    if (x === "epoch" || x === "time") { q.set("x", x); }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    lrtempo_url: {
      setQuery: setQuery,

      review: function (window_, start, end, experiment, status, user, tag, refresh) {
        var q = new URLSearchParams();
        if (window_ === "custom") {
          if (start && end) { q.set("window", start.slice(0, 10) + ".." + end.slice(0, 10)); }
        } else if (window_) { q.set("window", window_); }
        if (experiment) { q.set("experiment", experiment); }
        if (status) { q.set("status", status); }
        if (user) { q.set("user", user); }
        if (tag) { q.set("tag", tag); }
        if (refresh) { q.set("refresh", String(refresh)); }
        return setQuery(q);
      },

      // The zoom (xr=lo,hi) is kept only while it belongs to the view shown (its "rev",
      // dashboard.zoom.view_rev: x mode and log y).
      run: function (runId, smoothing, logy, x, zoom) {
        if (!runId) { return ""; }
        var q = new URLSearchParams();
        q.set("id", runId);
        setCurves(q, smoothing, logy, x);
        var rev = (x || "step") + "-" + (logOn(logy) ? "True" : "False");
        if (zoom && zoom.range && zoom.rev === rev) {
          q.set("xr", zoom.range.map(function (v) { return Number(v.toPrecision(8)); }).join(","));
        }
        return setQuery(q);
      },

      compare: function (ids, logy, smoothing, x) {
        var q = new URLSearchParams();
        if (Array.isArray(ids) && ids.length) { q.set("ids", ids.join(",")); }
        setCurves(q, smoothing, logy, x);
        return setQuery(q);
      },
    },
  });
})();
