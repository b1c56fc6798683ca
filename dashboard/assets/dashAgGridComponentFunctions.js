/* Cell renderers for the Review grid. Values are rendered as React text children,
   never as HTML, so run names show exactly the characters they have. */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

(function () {
  function navigate(event, href) {
    // Same as dcc.Link: client-side navigation for a plain left click.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    window.history.pushState({}, "", href);
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    window.scrollTo(0, 0);
  }

  // The run's name (a long one that does not fit is cut in the middle, so its end stays
  // readable; the full name is the cell's tooltip and the link's label), what tells it
  // from runs of the same name, and "new" when it was not in this browser's last review
  // (window.lrtempoNewIds, see review.py). Widths are measured with a canvas in the
  // cell's font; the parts are inline, so the name copies and reads as one word.
  var TAIL = 10;
  var canvas = null;
  function textWidth(text, font) {
    canvas = canvas || document.createElement("canvas");
    var c = canvas.getContext("2d");
    c.font = font;
    return c.measureText(text).width;
  }
  function cellFont(weight, size) {
    var family = window.getComputedStyle(document.body).fontFamily || "sans-serif";
    return weight + " " + size + "px " + family;
  }
  dagcomponentfuncs.RunLink = function (props) {
    var data = props.data || {};
    var href = "/run?id=" + encodeURIComponent(String(data.id || ""));
    var name = String(props.value == null ? "" : props.value);
    var fresh = window.lrtempoNewIds;
    var isNew = !!(fresh && fresh.has && fresh.has(String(data.id)));
    var suffix = data.run_suffix ? String(data.run_suffix) : "";
    var room = props.column && props.column.getActualWidth ? props.column.getActualWidth() - 20 : 200;
    if (suffix) { room -= textWidth(suffix, cellFont(400, 12.5)) + 12; }
    if (isNew) { room -= 38; }
    var font = cellFont(600, 13);
    var parts = [];
    if (name.length > 12 && textWidth(name, font) > room) {
      var tail = name.slice(name.length - Math.min(TAIL, Math.floor(name.length / 2)));
      var headRoom = Math.max(room - textWidth(tail, font) - 2, 24);
      parts.push(React.createElement("span", { className: "run-head", key: "h",
                                               style: { maxWidth: headRoom + "px" } },
                                     name.slice(0, name.length - tail.length)));
      parts.push(React.createElement("span", { className: "run-tail", key: "t" }, tail));
    } else {
      parts.push(name);
    }
    var children = [React.createElement(
      "a",
      { href: href, className: "run-link", key: "a", "aria-label": name,
        onClick: function (e) { navigate(e, href); } },
      parts
    )];
    if (suffix) {
      children.push(React.createElement("span", { className: "run-suffix", key: "s" }, suffix));
    }
    if (isNew) {
      children.push(React.createElement("span", { className: "badge run-new", key: "n",
                                                  title: "new since your last review" }, "new"));
    }
    return React.createElement("span", { className: "run-cell" }, children);
  };

  // MLflow's run state; a running run stands out.
  dagcomponentfuncs.RunState = function (props) {
    var s = String(props.value == null ? "" : props.value);
    if (!s) {
      return "";
    }
    var cls = { RUNNING: "badge bg-info text-dark", FAILED: "badge bg-danger",
                KILLED: "badge bg-dark" }[s];
    return React.createElement("span", { className: "run-state " + (cls || "text-muted") }, s);
  };

  var BADGE = {
    healthy: "bg-success",
    divergence: "bg-danger",
    oscillation: "bg-warning text-dark",
    overfitting: "bg-primary",
    stagnation: "bg-secondary",
    insufficient_data: "bg-light text-dark border",
  };

  // The status (the column itself sorts by the row's triage position); a running run's
  // verdict is marked "so far".
  dagcomponentfuncs.StatusBadge = function (props) {
    var data = props.data || {};
    var s = String(data.status != null ? data.status : (props.value == null ? "" : props.value));
    var badge = React.createElement(
      "span",
      { className: "badge status-badge status-" + s.replace(/[^a-z_]/g, "") + " " + (BADGE[s] || "bg-secondary"),
        key: "b" },
      s.replace(/_/g, " ")
    );
    if (!data.running) {
      return badge;
    }
    return React.createElement("span", null, [badge, React.createElement(
      "span", { className: "so-far", key: "f", title: "the run is still running" }, " so far")]);
  };

  // The run's train loss as a tiny line (values already scaled to [0, 1] server-side).
  dagcomponentfuncs.Sparkline = function (props) {
    var v = props.value;
    if (!Array.isArray(v) || v.length < 2) {
      return "";
    }
    var w = 64, h = 24, n = v.length;
    var pts = v.map(function (y, i) {
      var yy = Number(y);
      if (!isFinite(yy)) { yy = 0.5; }
      return (1 + (i * (w - 2)) / (n - 1)).toFixed(1) + "," + (h - 2 - yy * (h - 4)).toFixed(1);
    }).join(" ");
    return React.createElement(
      "svg",
      { width: w, height: h, viewBox: "0 0 " + w + " " + h, className: "sparkline",
        role: "img", "aria-label": "train loss" },
      React.createElement("polyline", { points: pts, fill: "none", stroke: "#1f77b4",
                                        strokeWidth: 1.4 })
    );
  };

  // The run's sweep and its advice, linking to the sweep on the Sweeps page.
  dagcomponentfuncs.SweepLink = function (props) {
    var data = props.data || {};
    var href = String(data.sweep_href || "");
    if (!props.value || href.indexOf("/sweeps?") !== 0) {
      return "";
    }
    return React.createElement(
      "a",
      { href: href, className: "sweep-link", onClick: function (e) { navigate(e, href); } },
      String(props.value)
    );
  };

  dagcomponentfuncs.ExternalLink = function (props) {
    var url = props.value;
    if (!url || !/^https?:\/\//i.test(String(url))) {
      return "";
    }
    return React.createElement(
      "a",
      { href: String(url), target: "_blank", rel: "noopener noreferrer" },
      "open ↗"
    );
  };
})();
