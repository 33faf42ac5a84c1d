// The public portal (公示查询): asks the public GraphQL (/graphql, no key) and shows
// what it answers. Queries are built from the public schema's own fields (one
// introspection request), so a field classed above OPEN is simply not asked for.
// Text is set with textContent only; the page holds no inline script or style.
(function () {
  "use strict";
  var ENDPOINT = "/graphql";
  var PAGE = 20;
  var CODE = /^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$/;
  var TYPES = ["Query", "Enterprise", "Licence", "Penalty", "Anomaly", "SeriousViolation",
    "JudgmentDefault", "Inspection", "Warning", "WarningReason", "CreditGrade",
    "InspectionPlan", "InspectionDraw", "InspectionDrawItem", "Viewing"];
  var STATUS = { ACTIVE: ["存续", "active"], REVOKED: ["吊销", "revoked"],
    CANCELLED: ["注销", "cancelled"], MOVED_OUT: ["迁出", "moved out"] };
  var LICENCE = { VALID: ["有效", "valid"], SUSPENDED: ["暂停", "suspended"],
    REVOKED: ["撤销", "revoked"], EXPIRED: ["过期", "expired"] };
  var PENALTY = { WARNING: ["警告", "warning"], CRITICISM: ["通报批评", "criticism"],
    FINE: ["罚款", "fine"], CONFISCATION: ["没收", "confiscation"],
    LICENCE_SUSPENSION: ["暂扣许可证", "licence suspended"],
    LICENCE_REVOCATION: ["吊销许可证", "licence revoked"],
    PRODUCTION_SUSPENSION: ["责令停产停业", "production suspended"],
    CLOSURE: ["责令关闭", "closure"], DETENTION: ["行政拘留", "detention"] };
  var LEVEL = { NONE: ["无预警", "no warning"], YELLOW: ["黄色预警", "yellow"],
    ORANGE: ["橙色预警", "orange"], RED: ["红色预警", "red"] };
  var RULE = { SINGLE_AGENCY_RISK: ["单一部门风险记录", "a risk record of one agency"],
    SINGLE_AGENCY_HIGH_RISK: ["单一部门高风险记录", "a high-risk record of one agency"],
    SINGLE_AGENCY_REPEATED: ["单一部门多次记录", "repeated records of one agency"],
    CROSS_AGENCY: ["多个部门均有记录", "records of several agencies"],
    LEGAL_REPRESENTATIVE: ["法定代表人预警", "the legal representative's warning"] };
  var PURPOSE = { INSPECTION: ["监督检查", "inspection"], CASE_HANDLING: ["案件办理", "case handling"],
    LICENCE_APPROVAL: ["行政许可", "licence approval"], PROCUREMENT: ["政府采购", "procurement"],
    BIDDING: ["招标投标", "bidding"], SUBSIDY: ["财政补助", "subsidy"],
    HONOUR: ["表彰奖励", "honours"], CREDIT_REPAIR: ["信用修复", "credit repair"],
    STATISTICS: ["统计分析", "statistics"], AUDIT: ["审计", "audit"] };
  var REGISTRATION = [["creditCode", "统一社会信用代码", "Credit code"],
    ["name", "名称", "Name"], ["entityType", "类型", "Type"],
    ["legalRepName", "法定代表人", "Legal representative"],
    ["registeredCapital", "注册资本（万元）", "Registered capital (10,000 yuan)"],
    ["establishedOn", "成立日期", "Established"], ["status", "登记状态", "Status", STATUS],
    ["address", "住所", "Address"], ["industry", "行业", "Industry"],
    ["registeringAgency", "登记机关", "Registering agency"]];
  var LISTED = [["reason", "列入原因", "Reason listed"], ["listedOn", "列入日期", "Listed on"],
    ["removalReason", "移出原因", "Reason removed"], ["removedOn", "移出日期", "Removed on"]];
  var SECTIONS = [
    { field: "licences", type: "Licence", zh: "行政许可", en: "Licences", fields: [
      ["licenceNo", "许可证编号", "Licence no."], ["licenceName", "许可证名称", "Name"],
      ["content", "许可内容", "Content"], ["validFrom", "有效期自", "Valid from"],
      ["validTo", "有效期至", "Valid to"], ["status", "状态", "Status", LICENCE]] },
    { field: "penalties", type: "Penalty", zh: "行政处罚", en: "Administrative penalties",
      fields: [["decisionNo", "决定书文号", "Decision no."],
        ["violationType", "违法行为类型", "Violation"],
        ["penaltyType", "处罚种类", "Penalty", PENALTY], ["content", "处罚内容", "Content"],
        ["amount", "罚没金额（元）", "Amount (yuan)"], ["decidedOn", "决定日期", "Decided on"],
        ["publishedOn", "公示日期", "Published on"]] },
    { field: "anomalies", type: "Anomaly", zh: "经营异常名录", en: "Business anomaly list",
      fields: LISTED },
    { field: "seriousViolations", type: "SeriousViolation", zh: "严重违法失信名单",
      en: "Serious violation list", fields: LISTED },
    { field: "judgmentDefaults", type: "JudgmentDefault", zh: "失信被执行人",
      en: "Judgment defaulters", fields: [["court", "执行法院", "Court"],
        ["caseNo", "案号", "Case no."], ["performance", "履行情况", "Performance"],
        ["listedOn", "列入日期", "Listed on"], ["removedOn", "移出日期", "Removed on"]] },
    { field: "inspections", type: "Inspection", zh: "抽查检查结果", en: "Inspections",
      fields: [["inspectedOn", "检查日期", "Inspected on"], ["result", "检查结果", "Result"]] }];
  var MESSAGES = {
    INVALID_CREDIT_CODE: ["统一社会信用代码无效，请核对 18 位代码。",
      "Not a valid unified social credit code: check the 18 characters."],
    RATE_LIMITED: ["查询过于频繁，请稍后再试。", "Too many searches: try again in a minute."],
    SOURCE_UNAVAILABLE: ["部分部门的数据暂时无法读取，以下信息可能不完整。",
      "Some agencies could not be read just now: what follows may be incomplete."] };

  var fields = {}; // type name -> set of the public schema's field names (and Query args)
  var ready = null;
  var sequence = 0;
  var shown = { q: "", after: null };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attributes) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    for (var i = 2; i < arguments.length; i++) {
      if (arguments[i] !== null && arguments[i] !== undefined) node.append(arguments[i]);
    }
    return node;
  }
  function both(zh, en) { // Chinese, then English in its own language span
    var span = document.createElement("span");
    span.append(zh + " ", el("span", { lang: "en", text: en }));
    return span;
  }
  function plain(pair) { return pair[0] + " · " + pair[1]; }
  function has(type, name) { return !!(fields[type] && fields[type][name]); }
  function pick(type, names) { return names.filter(function (n) { return has(type, n); }); }
  // "name { a b }" for the fields of `inside` that exist, or nothing when none does
  function sub(name, inside) {
    var kept = inside.filter(Boolean);
    return kept.length ? name + " { " + kept.join(" ") + " }" : "";
  }
  function when(type, field, selection) { return has(type, field) ? selection : ""; }

  function PortalError(code, message) { this.code = code; this.message = message; }

  async function ask(query, variables) {
    var response;
    try {
      response = await fetch(ENDPOINT, { method: "POST", credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query: query, variables: variables || {} }) });
    } catch (error) {
      throw new PortalError("NETWORK", "");
    }
    var body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    var errors = (body && body.errors) || [];
    if (!body || !body.data) {
      var first = errors[0] || {};
      throw new PortalError((first.extensions || {}).code || "HTTP_" + response.status,
        first.message || "");
    }
    return { data: body.data, errors: errors };
  }

  function say(text, problem) {
    var status = $("status");
    status.textContent = text;
    status.classList.toggle("problem", !!problem);
  }
  function sayError(error) {
    var known = MESSAGES[error.code];
    if (known) return say(plain(known), true);
    if (error.code === "NETWORK") {
      return say("无法连接服务器，请稍后再试。 · The gateway could not be reached.", true);
    }
    say("查询失败。 · The search failed" + (error.message ? ": " + error.message : "."), true);
  }
  function noteProblems(errors) {
    var unavailable = errors.filter(function (e) {
      return (e.extensions || {}).code === "SOURCE_UNAVAILABLE";
    });
    if (unavailable.length) return el("p", { class: "notice", role: "note" },
      both(MESSAGES.SOURCE_UNAVAILABLE[0], MESSAGES.SOURCE_UNAVAILABLE[1]));
    return null;
  }

  function learnSchema() {
    var parts = TYPES.map(function (type) {
      var args = type === "Query" ? " args { name }" : "";
      return "t" + type + ": __type(name: \"" + type + "\") { fields { name" + args + " } }";
    });
    return ask("query PortalSchema { " + parts.join(" ") + " }").then(function (answer) {
      TYPES.forEach(function (type) {
        var found = answer.data["t" + type];
        fields[type] = Object.create(null);
        ((found && found.fields) || []).forEach(function (f) {
          fields[type][f.name] = true;
          (f.args || []).forEach(function (a) { fields[type][f.name + "(" + a.name] = true; });
        });
      });
    });
  }

  function fileQuery() {
    var AGENCY = "agency { code name }";
    var parts = pick("Enterprise", REGISTRATION.map(function (f) { return f[0]; })).concat([
      when("Enterprise", "agency", AGENCY),
      when("Enterprise", "warning", sub("warning", pick("Warning", ["level", "partial", "asOf"])
        .concat([sub("reasons", pick("WarningReason", ["rule", "level"]).concat([
          when("WarningReason", "agencies", "agencies { code name }"),
          when("WarningReason", "withheld", "withheld { message }")])),
        when("Warning", "missingAgencies", "missingAgencies { code name }")]))),
      when("Enterprise", "creditGrade", sub("creditGrade",
        pick("CreditGrade", ["grade", "name", "basis", "partial", "asOf"])
          .concat([when("CreditGrade", "withheld", "withheld { message }")])))]);
    SECTIONS.forEach(function (s) {
      var wanted = s.fields.map(function (f) { return f[0]; })
        .concat(["disputed", "repairedOn", "withdrawnOn"]);
      parts.push(when("Enterprise", s.field, sub(s.field + "(period: $period)",
        pick(s.type, wanted).concat([when(s.type, "agency", AGENCY)]))));
    });
    var viewers = when("Query", "whoViewed", sub("whoViewed(creditCode: $code)",
      pick("Viewing", ["agency", "purpose", "day", "requests"])));
    return "query PortalFile($code: String!, $period: RecordPeriod!) { " +
      sub("enterprise(creditCode: $code)", parts) + " " + viewers + " }";
  }

  function value(item, spec) {
    var raw = item[spec[0]];
    if (raw === null || raw === undefined || raw === "") return null;
    if (spec[3]) return spec[3][raw] ? plain(spec[3][raw]) : String(raw);
    if (typeof raw === "number") return raw.toLocaleString("zh-CN");
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(raw)) { // a moment: shown in the visitor's time
      return new Date(raw).toLocaleString("zh-CN", { hour12: false });
    }
    return String(raw);
  }
  function facts(item, specs) {
    var list = el("dl", { class: "facts" });
    specs.forEach(function (spec) {
      if (!(spec[0] in item)) return;
      var shownValue = value(item, spec);
      list.append(el("dt", {}, both(spec[1], spec[2])),
        el("dd", { text: shownValue === null ? "—" : shownValue }));
    });
    return list;
  }
  function agencyOf(agency) { return agency ? agency.name + " (" + agency.code + ")" : "—"; }
  function agencyFact(list, agency) {
    list.append(el("dt", {}, both("提供部门", "Agency")), el("dd", { text: agencyOf(agency) }));
  }
  function section(id, zh, en) {
    return el("section", { id: id, class: "panel", "aria-labelledby": id + "-title" },
      el("h3", { id: id + "-title" }, both(zh, en)));
  }

  function recordList(s, records) {
    var box = section("sec-" + s.field, s.zh, s.en);
    box.querySelector("h3").append(el("span", { class: "count", text: " (" + records.length + ")" }));
    if (!records.length) {
      box.append(el("p", { class: "none" }, both("无", "None")));
      return box;
    }
    var list = el("ul", { class: "records" });
    records.forEach(function (record) {
      var item = el("li", { class: "record" });
      var info = facts(record, s.fields);
      if ("agency" in record) agencyFact(info, record.agency);
      item.append(info);
      if (record.disputed) item.append(el("p", { class: "flag" }, both("异议审核中", "Under objection")));
      if (record.repairedOn) item.append(el("p", { class: "flag" },
        both("已信用修复 " + record.repairedOn, "Credit repaired " + record.repairedOn)));
      if (record.withdrawnOn) item.append(el("p", { class: "flag" },
        both("异议成立，已撤回 " + record.withdrawnOn, "Withdrawn on objection " + record.withdrawnOn)));
      list.append(item);
    });
    box.append(list);
    return box;
  }

  function warningPanel(warning) {
    var box = section("sec-warning", "预警", "Warning");
    var level = LEVEL[warning.level] || [warning.level, warning.level];
    box.append(el("p", { class: "level level-" + String(warning.level).toLowerCase() },
      both(level[0], level[1])));
    var reasons = el("ul", { class: "reasons" });
    (warning.reasons || []).forEach(function (r) {
      var rule = RULE[r.rule] || [r.rule, r.rule];
      var agencies = (r.agencies || []).map(agencyOf).join("、");
      var line = el("li", {}, both(rule[0], rule[1]), agencies ? "：" + agencies : "");
      (r.withheld || []).forEach(function (w) { line.append(el("div", { text: w.message })); });
      reasons.append(line);
    });
    if (reasons.childElementCount) box.append(reasons);
    if (warning.partial) {
      var missing = (warning.missingAgencies || []).map(agencyOf).join("、");
      box.append(el("p", { class: "notice" }, both("部分部门数据未能读取，预警等级可能偏低",
        "Some agencies could not be read; the level may be too low"), missing ? "：" + missing : ""));
    }
    return box;
  }
  function gradePanel(grade) {
    var box = section("sec-grade", "信用等级", "Credit grade");
    box.append(el("p", { class: "grade grade-" + String(grade.grade).toLowerCase(),
      text: grade.grade + (grade.name ? " · " + grade.name : "") }));
    var basis = el("ul", { class: "reasons" });
    (grade.basis || []).forEach(function (b) { basis.append(el("li", { text: b })); });
    (grade.withheld || []).forEach(function (w) { basis.append(el("li", { text: w.message })); });
    if (basis.childElementCount) box.append(basis);
    return box;
  }

  function viewersPanel(viewings, found) {
    var names = {}; // the agencies' names as the file's own records give them
    var records = [found];
    SECTIONS.forEach(function (s) { records = records.concat(found[s.field] || []); });
    records.forEach(function (r) { if (r.agency) names[r.agency.code] = r.agency; });
    var box = section("sec-viewers", "部门查阅记录", "Agencies that read this file");
    if (!viewings.length) {
      box.append(el("p", { class: "none" }, both("无", "None")));
      return box;
    }
    var list = el("ul", { class: "reasons" });
    viewings.forEach(function (v) {
      var purpose = PURPOSE[v.purpose] ? plain(PURPOSE[v.purpose]) : v.purpose;
      var agency = names[v.agency] ? agencyOf(names[v.agency]) : v.agency;
      list.append(el("li", { text: [v.day, agency, purpose].filter(Boolean).join(" · ") +
        (v.requests ? " · " + v.requests + " 次 times" : "") }));
    });
    box.append(list);
    return box;
  }

  function showOnly(id) {
    ["results", "file"].forEach(function (name) { $(name).hidden = name !== id; });
  }
  function focus(node) { if (node) node.focus(); }

  async function openFile(code, q, moveFocus) {
    var mine = ++sequence;
    say("正在读取… · Loading…");
    var history = $("history").checked;
    var answer = await ask(fileQuery(), { code: code, period: history ? "ALL" : "CURRENT" });
    if (mine !== sequence) return;
    var found = answer.data.enterprise;
    var file = $("file");
    file.replaceChildren();
    if (!found) {
      showOnly(null);
      return say("未找到该信用代码的企业。 · No enterprise with this credit code.", true);
    }
    var title = el("h2", { id: "file-title", tabindex: "-1", text: found.name || code });
    file.append(title);
    if (q) file.append(el("p", {}, el("a", { href: "#" + hashOf({ q: q, history: history }) },
      both("← 返回查询结果", "Back to the results"))));
    var problems = noteProblems(answer.errors);
    if (problems) file.append(problems);
    var registration = section("sec-registration", "登记信息", "Registration");
    var info = facts(found, REGISTRATION);
    if ("agency" in found) agencyFact(info, found.agency);
    registration.append(info);
    file.append(registration);
    if (found.warning) file.append(warningPanel(found.warning));
    if (found.creditGrade) file.append(gradePanel(found.creditGrade));
    SECTIONS.forEach(function (s) { if (found[s.field]) file.append(recordList(s, found[s.field])); });
    if (answer.data.whoViewed) file.append(viewersPanel(answer.data.whoViewed, found));
    showOnly("file");
    say("已打开 " + (found.name || code) + " 的公示信息。 · The file of " +
      (found.name || code) + " is open.");
    if (moveFocus) focus(title);
  }

  async function search(q, after, moveFocus) {
    var mine = ++sequence;
    say("正在查询… · Searching…");
    var answer = await ask("query PortalSearch($q: String!, $first: Int!, $after: String) { " +
      "enterprises(filter: { nameContains: $q }, first: $first, after: $after) { totalCount " +
      "edges { node { " + pick("Enterprise", ["creditCode", "name", "status", "industry"]).join(" ") +
      " } } pageInfo { hasNextPage endCursor } } }", { q: q, first: PAGE, after: after });
    if (mine !== sequence) return;
    var page = answer.data.enterprises;
    var list = $("result-list");
    if (!after) list.replaceChildren();
    var firstNew = null;
    page.edges.forEach(function (edge) {
      var node = edge.node;
      var link = el("a", { href: "#" + hashOf({ q: q, code: node.creditCode,
        history: $("history").checked }), text: node.name || node.creditCode });
      var meta = [node.creditCode, node.status && STATUS[node.status] ?
        plain(STATUS[node.status]) : node.status, node.industry].filter(Boolean).join(" · ");
      list.append(el("li", {}, link, el("span", { class: "meta", text: meta })));
      firstNew = firstNew || link;
    });
    shown = { q: q, after: page.pageInfo.endCursor };
    $("more").hidden = !page.pageInfo.hasNextPage;
    showOnly("results");
    var count = list.childElementCount;
    say(page.totalCount === 0 ? "未找到符合条件的企业。 · No enterprise found." :
      "找到 " + page.totalCount + " 家企业，显示 " + count + " 家。 · " + page.totalCount +
      " enterprises found, " + count + " shown.");
    if (moveFocus) focus(after ? firstNew : $("results-title"));
  }

  function planPanel(plan) {
    var box = el("section", { class: "panel plan", "aria-labelledby": "plan-" + plan.id });
    box.append(el("h3", { id: "plan-" + plan.id, text: plan.name }));
    box.append(facts(plan, [["agency", "牵头部门", "Lead agency"],
      ["agencies", "参与部门", "Agencies"], ["items", "抽查事项", "What is checked"],
      ["count", "抽取数量", "Enterprises drawn"], ["publishedAt", "公布时间", "Published"]]));
    var draw = plan.draw;
    if (!draw) return box;
    var details = el("details", { class: "draw" }, el("summary", {},
      both("抽取结果（" + (draw.items || []).length + " 家）",
        "The draw (" + (draw.items || []).length + " enterprises)")));
    details.append(facts(draw, [["seed", "随机种子", "Seed"], ["drawnAt", "抽取时间", "Drawn at"],
      ["digest", "校验值", "Digest (SHA-256)"], ["redraws", "重新抽取次数", "Redraws"]]
      .concat(draw.reason ? [["reason", "重新抽取原因", "Why redrawn"]] : [])));
    var items = el("ol", { class: "drawn" });
    (draw.items || []).forEach(function (item) {
      var name = item.enterprise && item.enterprise.name;
      items.append(el("li", {}, name ? el("a", { href: "#" + hashOf({ code: item.creditCode }),
        text: name }) : item.creditCode, name ? el("span", { class: "meta", text: item.creditCode }) : null));
    });
    details.append(items);
    box.append(details);
    return box;
  }
  async function loadPlans() {
    if (!has("Query", "inspectionPlans")) return;
    var items = sub("items", pick("InspectionDrawItem", ["creditCode"])
      .concat([when("InspectionDrawItem", "enterprise", "enterprise { name }")]));
    var plan = pick("InspectionPlan", ["id", "name", "agency", "agencies", "items", "count",
      "publishedAt"]).concat([when("InspectionPlan", "draw", sub("draw",
        pick("InspectionDraw", ["seed", "drawnAt", "digest", "redraws", "reason"])
          .concat([items])))]);
    var args = has("Query", "inspectionPlans(status") ? "(status: PUBLISHED)" : "";
    var answer = await ask("query PortalPlans { " + sub("inspectionPlans" + args, plan) + " }");
    var plans = answer.data.inspectionPlans || [];
    var list = $("plan-list");
    list.replaceChildren();
    if (!plans.length) list.append(el("p", { class: "none" }, both("暂无公布的抽查计划", "No plan published yet")));
    plans.forEach(function (p) {
      p.agencies = (p.agencies || []).join("、");
      p.items = (p.items || []).join("；");
      list.append(planPanel(p));
    });
    $("plans").hidden = false;
  }

  function hashOf(state) {
    var parts = [];
    if (state.q) parts.push("q=" + encodeURIComponent(state.q));
    if (state.code) parts.push("code=" + encodeURIComponent(state.code));
    if (state.history) parts.push("history=1");
    return parts.join("&");
  }
  function stateOf(hash) {
    var state = {};
    hash.replace(/^#/, "").split("&").forEach(function (part) {
      var at = part.indexOf("=");
      if (at > 0) state[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1));
    });
    return state;
  }
  function route(moveFocus) {
    if (location.hash && location.hash.indexOf("=") < 0) return; // #main: not a search
    var state = stateOf(location.hash);
    $("history").checked = state.history === "1";
    if (state.q !== undefined || state.code) $("q").value = state.q || state.code;
    var done;
    if (state.code) done = openFile(state.code, state.q, moveFocus);
    else if (state.q) done = search(state.q, null, moveFocus);
    else { showOnly(null); return; }
    done.catch(sayError);
  }

  function submit(event) {
    event.preventDefault();
    var input = $("q");
    var q = input.value.trim();
    input.removeAttribute("aria-invalid");
    if (!q) {
      input.setAttribute("aria-invalid", "true");
      say("请输入企业名称或统一社会信用代码。 · Enter a name or a credit code.", true);
      input.focus();
      return;
    }
    var upper = q.toUpperCase();
    var hash = hashOf(CODE.test(upper) ? { code: upper, history: $("history").checked } :
      { q: q, history: $("history").checked });
    if (location.hash.replace(/^#/, "") === hash) route(true);
    else location.hash = hash;
  }

  function schema() { // learnt once; asked again after a failure
    if (!ready) ready = learnSchema().catch(function (error) { ready = null; throw error; });
    return ready;
  }
  function historyChanged() {
    var state = stateOf(location.hash);
    if (state.q || state.code) {
      state.history = $("history").checked ? "1" : "";
      location.hash = hashOf(state);
    }
  }

  function start() {
    $("search").addEventListener("submit", submit);
    document.querySelector(".skip").addEventListener("click", function (event) {
      event.preventDefault(); // keep the search in the address
      $("main").focus();
    });
    $("history").addEventListener("change", historyChanged);
    $("more").addEventListener("click", function () {
      search(shown.q, shown.after, true).catch(sayError);
    });
    window.addEventListener("hashchange", function () {
      schema().then(function () { route(true); }, sayError);
    });
    schema().then(function () {
      route(false);
      loadPlans().catch(function () { $("plans").hidden = true; });
    }, sayError);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
