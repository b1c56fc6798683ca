/* Value functions for the Review grid's column definitions ({"function": "sig3(...)"}). */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

// A number to three significant digits, as analyzer.lrtext.format_sig writes it: plain
// from 0.01 to below 100,000 (0.05, 250), e-notation outside (3e-4, 1.2e5); text as is.
dagfuncs.sig3 = function (v) {
  if (v === null || v === undefined || v === "") {
    return "";
  }
  if (typeof v !== "number") {
    return String(v);
  }
  if (!isFinite(v)) {
    return "";
  }
  if (v === 0) {
    return "0";
  }
  var r = Number(v.toPrecision(3));
  var a = Math.abs(r);
  if (a >= 1e-2 && a < 1e5) {
    return String(r);
  }
  var parts = v.toExponential(2).split("e");
  var mantissa = parts[0].replace(/0+$/, "").replace(/\.$/, "");
  return mantissa + "e" + String(parseInt(parts[1], 10));
};
