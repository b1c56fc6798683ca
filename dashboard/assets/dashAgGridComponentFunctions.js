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

  dagcomponentfuncs.RunLink = function (props) {
    var data = props.data || {};
    var href = "/run?id=" + encodeURIComponent(String(data.id || ""));
    var children = String(props.value == null ? "" : props.value);
    return React.createElement(
      "a",
      { href: href, className: "run-link", onClick: function (e) { navigate(e, href); } },
      children
    );
  };

  var BADGE = {
    healthy: "bg-success",
    divergence: "bg-danger",
    oscillation: "bg-warning text-dark",
    overfitting: "bg-primary",
    stagnation: "bg-secondary",
    insufficient_data: "bg-light text-dark border",
  };

  dagcomponentfuncs.StatusBadge = function (props) {
    var s = String(props.value == null ? "" : props.value);
    return React.createElement(
      "span",
      { className: "badge status-badge status-" + s.replace(/[^a-z_]/g, "") + " " + (BADGE[s] || "bg-secondary") },
      s.replace(/_/g, " ")
    );
  };

  // The run's train loss as a tiny line (values already scaled to [0, 1] server-side).
  dagcomponentfuncs.Sparkline = function (props) {
    var v = props.value;
    if (!Array.isArray(v) || v.length < 2) {
      return "";
    }
    var w = 80, h = 24, n = v.length;
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
