/* Light or dark (issue 12). Before Dash starts: <html data-bs-theme> is set from the
   visitor's explicit choice (the "lrt-theme" dcc.Store, local storage: '"light"' or
   '"dark"') or else from the browser's prefers-color-scheme, which is then followed
   live. Bootstrap 5.3 draws the page from it, AG Grid its tables from
   data-ag-theme-mode, and 20_dark.css the Dash controls and the Plotly figures. Clientside callbacks (dashboard/layout.py):
   ClientsideFunction("lrtempo_theme", "toggle" | "apply"). */
(function () {
  "use strict";
  var KEY = "lrt-theme";
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  // "light" / "dark" chosen by the visitor, or null (none yet, or unreadable).
  function chosen(value) {
    return value === "light" || value === "dark" ? value : null;
  }

  function stored() {
    try {
      return chosen(JSON.parse(window.localStorage.getItem(KEY)));
    } catch (e) {
      return null;
    }
  }

  function preferred() {
    return media && media.matches ? "dark" : "light";
  }

  // Bootstrap's and AG Grid's (theming API) attributes.
  function set(theme) {
    document.documentElement.setAttribute("data-bs-theme", theme);
    document.documentElement.setAttribute("data-ag-theme-mode", theme);
    return theme;
  }

  set(stored() || preferred());
  if (media) {
    var follow = function () { if (!stored()) { set(preferred()); } };
    if (media.addEventListener) { media.addEventListener("change", follow); }
    else if (media.addListener) { media.addListener(follow); }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    lrtempo_theme: {
      // The toggle was clicked: the other theme than the one shown, as the choice.
      toggle: function (nClicks) {
        if (!nClicks) { return window.dash_clientside.no_update; }
        var shown = document.documentElement.getAttribute("data-bs-theme");
        return shown === "dark" ? "light" : "dark";
      },
      // The store changed (or was read): show its choice, else the browser's (the
      // toggle's label follows in CSS).
      apply: function (choice) {
        set(chosen(choice) || preferred());
      }
    }
  });
})();
