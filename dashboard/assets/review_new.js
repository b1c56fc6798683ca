/* "New since your last review" on the Review page: the run ids this browser has shown
   are kept in its local storage; those of a page load that were not there before are
   marked (the Run cell reads window.lrtempoNewIds). The first review in a browser marks
   none. A clientside callback: ClientsideFunction("lrtempo_review", "markNew"). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  lrtempo_review: {
    markNew: function (rows) {
      const KEY = "lrtempo.seenRuns", MAX = 20000;
      let stored = null;
      try { stored = JSON.parse(window.localStorage.getItem(KEY) || "null"); } catch (e) {}
      if (!window.lrtempoSeenAtLoad) {
        window.lrtempoSeenAtLoad = new Set(Array.isArray(stored) ? stored : []);
        window.lrtempoFirstReview = !Array.isArray(stored);
      }
      const ids = (Array.isArray(rows) ? rows : []).map(r => String(r && r.id));
      const fresh = window.lrtempoFirstReview ? []
        : ids.filter(id => !window.lrtempoSeenAtLoad.has(id));
      window.lrtempoNewIds = new Set(fresh);
      const keep = Array.from(new Set((Array.isArray(stored) ? stored : []).concat(ids)));
      try { window.localStorage.setItem(KEY, JSON.stringify(keep.slice(-MAX))); } catch (e) {}
      if (window.dash_ag_grid && dash_ag_grid.getApiAsync) {
        dash_ag_grid.getApiAsync("review-grid").then(api => api.refreshCells(
          {columns: ["run"], force: true})).catch(() => null);
      }
      if (!fresh.length) { return ""; }
      return fresh.length + " run" + (fresh.length === 1 ? "" : "s")
        + " new since your last review (marked new)";
    },
  },
});
