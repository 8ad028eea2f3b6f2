// The admin console's only script. The pages work without it; it makes a running job's page
// follow the job live over the job's server-sent events (/v1/jobs/{id}/events, cookie-signed-in),
// on the LLM routing page points a model field's suggestions at the provider chosen beside it, and
// asks before a form marked `data-confirm` (deleting a document) is sent.
(function () {
  "use strict";

  var STATUS_OF = { queued: "queued", retried: "queued", started: "running", succeeded: "succeeded", canceled: "canceled", failed: "failed" };
  var TERMINAL = { succeeded: true, failed: true, canceled: true };

  function byId(id) { return document.getElementById(id); }

  function moment(iso) {
    return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—";
  }

  function ms(value) {
    if (value === null || value === undefined) { return "—"; }
    return value >= 10000 ? (value / 1000).toFixed(1) + " s" : Math.round(value) + " ms";
  }

  function pretty(value) {
    return value === null || value === undefined ? "—" : JSON.stringify(value, null, 2);
  }

  function follow(page) {
    var lastSeen = parseInt(page.getAttribute("data-last-event-id") || "0", 10);
    var statusEl = byId("job-status");
    var note = byId("live-note");
    var source = new EventSource(page.getAttribute("data-events-url"));

    function setStatus(status) {
      if (!status || statusEl.textContent === status) { return; }
      statusEl.textContent = status;
      statusEl.className = "status status-" + status;
      page.setAttribute("data-status", status);
    }

    function addRow(id, payload) {
      var row = document.createElement("tr");
      [String(id), moment(payload.at), payload.type].forEach(function (text) {
        var cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      });
      var data = document.createElement("td");
      if (payload.data) {
        var code = document.createElement("code");
        code.textContent = JSON.stringify(payload.data);
        data.appendChild(code);
      }
      row.appendChild(data);
      byId("job-events").appendChild(row);
    }

    function recorded(handler) {
      return function (message) {
        // The stream's own `error` events share their name with EventSource's connection errors,
        // which carry no data.
        if (typeof message.data !== "string") { return; }
        var id = parseInt(message.lastEventId || "0", 10);
        if (id && id <= lastSeen) { return; }  // already on the page when it was rendered
        if (id) { lastSeen = id; }
        var payload = JSON.parse(message.data);
        addRow(id, payload);
        handler(payload);
      };
    }

    source.addEventListener("status", recorded(function (payload) {
      setStatus(STATUS_OF[payload.type]);
    }));
    source.addEventListener("error", recorded(function (payload) {
      setStatus("failed");
      byId("job-error").textContent = pretty(payload.data);
    }));
    source.addEventListener("progress", recorded(function (payload) {
      var progress = payload.data || {};
      var text = progress.stage || "";
      if (typeof progress.fraction === "number") { text += " " + Math.round(progress.fraction * 100) + " %"; }
      if (progress.message) { text += " — " + progress.message; }
      byId("job-progress").textContent = text || "—";
    }));
    source.addEventListener("output", recorded(function (payload) {
      var stream = byId("job-stream");
      stream.hidden = false;
      stream.textContent += (payload.data && payload.data.delta) || "";
    }));
    source.addEventListener("done", function (message) {
      var job = JSON.parse(message.data);
      source.close();
      setStatus(job.status);
      byId("job-output").textContent = pretty(job.output);
      byId("job-error").textContent = pretty(job.error);
      byId("job-started").textContent = moment(job.started_at);
      byId("job-completed").textContent = moment(job.completed_at);
      byId("job-metrics").textContent = ms(job.metrics.queue_ms) + " / " + ms(job.metrics.run_ms);
      byId("job-attempts").textContent = job.attempts + " / " + job.max_attempts;
      var cancel = byId("cancel-form");
      if (cancel && TERMINAL[job.status]) { cancel.hidden = true; }
      note.textContent = "The job ended: " + job.status + ".";
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        note.textContent = "Live updates stopped; reload the page to see the job as it is now.";
      }
    };
    note.textContent = "Following the job live.";
  }

  function suggestModels(select) {
    var input = byId(select.getAttribute("data-models-input"));
    if (!input) { return; }
    if (select.value) { input.setAttribute("list", "models-" + select.value); } else { input.removeAttribute("list"); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.querySelector("[data-follow-job]");
    if (page && window.EventSource) { follow(page); }
    Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("select[data-models-input]"), function (select) {
      select.addEventListener("change", function () { suggestModels(select); });
    });
  });
})();
