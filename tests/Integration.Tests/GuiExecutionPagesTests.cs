using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// Issue 16, part B: the execution pages of NoETL's web GUI, replayed in the order the GUI calls them — execution list,
/// detail polled with <c>since_event_id</c> while the execution runs, stop, rerun, analyze — checking every field the
/// GUI reads: events newest first, timestamps with <c>Z</c>, snowflake ids as strings (numbers stay on the worker's
/// claim), the result of a finished execution, and a 10,000-event execution whose end is on the first page.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class GuiExecutionPagesTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task The_execution_pages_read_newest_first_string_ids_and_utc_times_then_stop_rerun_and_analyze()
    {
        var path = $"tests/gui_{Guid.NewGuid():N}";
        var (catalogId, version) = await Http.Register(Playbooks.TwoSteps(path));
        var started = await Http.Post("/api/execute", new { path, workload = new { greeting = "bonjour" } });
        Assert.Equal(HttpStatusCode.OK, started.Status);
        var executionId = AssertIdString(started.Json["execution_id"]);

        // Execution list.
        var list = await Http.Get("/api/executions?page=1&page_size=100");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        var entry = list.Json.AsArray().Single(e => e!["execution_id"]!.GetValueKind() == JsonValueKind.String
            && e["execution_id"]!.GetValue<string>() == executionId.ToString())!;
        Assert.Equal(catalogId, AssertIdString(entry["catalog_id"]));
        AssertUtc(entry["start_time"]);

        // Detail, first load: newest first, every id a string, every time in UTC.
        var first = await Detail(executionId, "page=1&page_size=50");
        var firstEvents = AssertNewestFirst(first);
        Assert.Equal("command.issued", firstEvents[0]!["event_type"]!.GetValue<string>()); // the execution's end so far
        Assert.Equal("playbook.initialized", firstEvents[^1]!["event_type"]!.GetValue<string>());
        Assert.Equal(firstEvents.Count, first["pagination"]!["total_events"]!.GetValue<long>());
        Assert.False(first["pagination"]!["has_next"]!.GetValue<bool>());
        Assert.Null(first["result"]); // still running

        // The worker side keeps the contract's numbers.
        var worker = new SimulatedWorker(Http, "gui-worker");
        var claim = await Http.Claim(Assert.Single(await worker.PendingCommandEventsAsync(executionId)), "gui-worker");
        Assert.Equal(HttpStatusCode.OK, claim.Status);
        Assert.Equal(JsonValueKind.Number, claim.Json["execution_id"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, claim.Json["event_id"]!.GetValueKind());
        await worker.CompleteAsync(claim.Json, new JsonObject { ["greeted"] = true });

        // Polling with since_event_id: only what happened since the newest event the page shows, newest first.
        var since = AssertIdString(firstEvents[0]!["event_id"]);
        var poll = await Detail(executionId, $"page=1&page_size=50&since_event_id={since}");
        var polled = AssertNewestFirst(poll);
        Assert.NotEmpty(polled);
        Assert.All(polled, e => Assert.True(AssertIdString(e!["event_id"]) > since));
        Assert.Contains(polled, e => e!["event_type"]!.GetValue<string>() == "call.done");
        Assert.Equal(polled.Count, poll["pagination"]!["total_events"]!.GetValue<long>());

        // The run ends: status and detail carry the final step's result and the end time.
        var status = await worker.RunToCompletionAsync(executionId, _ => new JsonObject { ["answer"] = 42 });
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        Assert.Equal(executionId, AssertIdString(status["execution_id"]));
        Assert.Equal(42, status["result"]!["answer"]!.GetValue<int>());
        AssertUtc(status["start_time"]);
        AssertUtc(status["end_time"]);
        var finished = await Detail(executionId, "page=1&page_size=10");
        Assert.Equal("COMPLETED", finished["status"]!.GetValue<string>());
        Assert.Equal(42, finished["result"]!["answer"]!.GetValue<int>());
        AssertUtc(finished["end_time"]);
        AssertNewestFirst(finished);

        // Rerun: a new execution of the same catalog entry and version, the original workload overlaid.
        var rerun = await Http.Post($"/api/executions/{executionId}/rerun", new { workload = new { count = 5 } });
        Assert.Equal(HttpStatusCode.OK, rerun.Status);
        var rerunId = AssertIdString(rerun.Json["execution_id"]);
        Assert.NotEqual(executionId, rerunId);
        var rerunDetail = await Detail(rerunId, "page=1&page_size=50");
        Assert.Equal(catalogId, AssertIdString(rerunDetail["catalog_id"]));
        Assert.Equal(version, rerunDetail["version"]!.GetValue<int>());
        var initialized = AssertNewestFirst(rerunDetail).Single(e => e!["event_type"]!.GetValue<string>() == "playbook.initialized")!;
        Assert.Equal("bonjour", initialized["context"]!["workload"]!["greeting"]!.GetValue<string>());
        Assert.Equal(5, initialized["context"]!["workload"]!["count"]!.GetValue<int>());

        // Stop: the rerun is cancelled with a default reason, and its children with it.
        var stop = await Http.Post($"/api/executions/{rerunId}/stop");
        Assert.Equal(HttpStatusCode.OK, stop.Status);
        Assert.Equal("cancelled", stop.Json["status"]!.GetValue<string>());
        var stopped = await Detail(rerunId, "page=1&page_size=10");
        Assert.Equal("CANCELLED", stopped["status"]!.GetValue<string>());
        var cancelled = AssertNewestFirst(stopped)[0]!;
        Assert.Equal("execution.cancelled", cancelled["event_type"]!.GetValue<string>());
        Assert.Equal("Stopped by user", cancelled["meta"]!["reason"]!.GetValue<string>());
        Assert.True(cancelled["meta"]!["cascade"]!.GetValue<bool>());
        Assert.Null((await Http.Status(rerunId))["result"]);

        // Analyze the finished one.
        var report = await Http.Post($"/api/executions/{executionId}/analyze");
        Assert.Equal(HttpStatusCode.OK, report.Status);
        Assert.Equal(executionId, AssertIdString(report.Json["execution_id"]));
        Assert.Equal("COMPLETED", report.Json["status"]!.GetValue<string>());
        Assert.True(report.Json["duration_seconds"]!.GetValue<double>() >= 0);
        AssertUtc(report.Json["start_time"]);
        AssertUtc(report.Json["end_time"]);
        Assert.Equal(finished["pagination"]!["total_events"]!.GetValue<long>(), report.Json["event_count"]!.GetValue<long>());
        Assert.Equal(2, report.Json["events_by_type"]!["command.issued"]!.GetValue<long>());
        Assert.Empty(report.Json["failed_steps"]!.AsArray());
        var slowest = report.Json["slowest_steps"]!.AsArray();
        Assert.Equal(new[] { "finish", "start" }, slowest.Select(s => s!["step"]!.GetValue<string>()).Order());
        Assert.All(slowest, s =>
        {
            Assert.Equal(1, s!["commands"]!.GetValue<long>());
            Assert.True(s["duration_seconds"]!.GetValue<double>() >= 0);
            AssertUtc(s["started_at"]);
            AssertUtc(s["finished_at"]);
        });
    }

    [Fact]
    public async Task Analyze_names_the_failed_step_and_its_error()
    {
        var path = $"tests/gui_failing_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var claim = await Http.Claim(Assert.Single(await new SimulatedWorker(Http, "w").PendingCommandEventsAsync(executionId)), "gui-failing");
        var commandId = claim.Json["meta"]!["command_id"]!.GetValue<long>();
        var meta = new JsonObject { ["lease_token"] = claim.Json["lease_token"]!.DeepClone() };
        foreach (var (name, payload) in new[]
                 {
                     ("command.started", new JsonObject { ["command_id"] = commandId }),
                     ("call.error", new JsonObject { ["command_id"] = commandId, ["error"] = "disk full on /data" }),
                     ("command.failed", new JsonObject { ["command_id"] = commandId, ["error"] = "disk full on /data" }),
                 })
            Assert.Equal(HttpStatusCode.OK, (await Http.Event(executionId, "start", name, payload, "gui-failing", meta)).Status);
        Assert.Equal("FAILED", (await Http.WaitTerminalAsync(executionId))["status"]!.GetValue<string>());

        var report = await Http.Post($"/api/executions/{executionId}/analyze", new { limit = 5 });

        Assert.Equal(HttpStatusCode.OK, report.Status);
        Assert.Equal("FAILED", report.Json["status"]!.GetValue<string>());
        var failed = Assert.Single(report.Json["failed_steps"]!.AsArray())!;
        Assert.Equal("start", failed["step"]!.GetValue<string>());
        Assert.Equal(2, failed["failures"]!.GetValue<long>()); // call.error and command.failed
        Assert.Contains("disk full", failed["error"]!.GetValue<string>());
        AssertIdString(failed["last_event_id"]);
        AssertUtc(failed["last_failed_at"]);
        Assert.Null((await Http.Status(executionId))["result"]);
    }

    /// <summary>
    /// The 10,000 events are informative events the worker running the one step posts through <c>/api/events/batch</c>
    /// (the honest way a long-running worker fills a log); then the step completes, so the newest events are the
    /// engine's own end.
    /// </summary>
    [Fact]
    public async Task A_ten_thousand_event_execution_shows_its_end_on_the_first_page()
    {
        var path = $"tests/gui_long_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var worker = new SimulatedWorker(Http, "gui-long");
        var claim = await Http.Claim(Assert.Single(await worker.PendingCommandEventsAsync(executionId)), "gui-long");
        Assert.Equal(HttpStatusCode.OK, claim.Status);
        const int Batches = 40, PerBatch = 250;
        for (var batch = 0; batch < Batches; batch++)
        {
            var events = new JsonArray([.. Enumerable.Range(0, PerBatch).Select(i => (JsonNode)new JsonObject
            {
                ["step"] = "start",
                ["name"] = "gui.progress",
                ["payload"] = new JsonObject { ["n"] = batch * PerBatch + i },
            })]);
            var posted = await Http.Post("/api/events/batch", new JsonObject
            {
                ["execution_id"] = executionId.ToString(),
                ["worker_id"] = "gui-long",
                ["events"] = events,
            });
            Assert.True(posted.Status == HttpStatusCode.Accepted, posted.Text);
        }
        await worker.CompleteAsync(claim.Json, new JsonObject { ["done"] = true });
        Assert.Equal("COMPLETED", (await Http.WaitTerminalAsync(executionId))["status"]!.GetValue<string>());
        var total = await fixture.System.AdminCountAsync("SELECT count(*) FROM noetl.event WHERE execution_id = $1", executionId);
        var newest = await fixture.System.AdminCountAsync("SELECT max(event_id) FROM noetl.event WHERE execution_id = $1", executionId);
        Assert.True(total > Batches * PerBatch);

        var first = await Detail(executionId, "page=1&page_size=100");
        var firstEvents = AssertNewestFirst(first);
        Assert.Equal(100, firstEvents.Count);
        Assert.Equal(newest, AssertIdString(firstEvents[0]!["event_id"]));
        Assert.Contains(firstEvents, e => e!["event_type"]!.GetValue<string>() == "playbook.completed");
        var pagination = first["pagination"]!;
        var pages = (int)Math.Ceiling(total / 100.0);
        Assert.Equal(total, pagination["total_events"]!.GetValue<long>());
        Assert.Equal(pages, pagination["total_pages"]!.GetValue<int>());
        Assert.True(pagination["has_next"]!.GetValue<bool>());
        Assert.False(pagination["has_prev"]!.GetValue<bool>());

        var last = await Detail(executionId, $"page={pages}&page_size=100");
        var lastEvents = AssertNewestFirst(last);
        Assert.Equal(total - (pages - 1) * 100, lastEvents.Count);
        Assert.Equal("playbook.initialized", lastEvents[^1]!["event_type"]!.GetValue<string>());
        Assert.False(last["pagination"]!["has_next"]!.GetValue<bool>());
        Assert.True(last["pagination"]!["has_prev"]!.GetValue<bool>());

        // A poll since an event on the first page answers exactly the newer ones.
        var since = AssertIdString(firstEvents[30]!["event_id"]);
        var poll = await Detail(executionId, $"page=1&page_size=100&since_event_id={since}");
        Assert.Equal(firstEvents.Take(30).Select(e => AssertIdString(e!["event_id"])), AssertNewestFirst(poll).Select(e => AssertIdString(e!["event_id"])));
        Assert.Equal(30, poll["pagination"]!["total_events"]!.GetValue<long>());

        var report = await Http.Post($"/api/executions/{executionId}/analyze");
        Assert.Equal(total, report.Json["event_count"]!.GetValue<long>());
        Assert.Equal(Batches * PerBatch, report.Json["events_by_type"]!["gui.progress"]!.GetValue<long>());
    }

    [Fact]
    public async Task Stop_rerun_and_analyze_refuse_bad_input_and_other_pools_and_write_nothing()
    {
        var path = $"tests/gui_hostile_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        // An execution of the system pool's playbook: the operator may start it, the shared pool may not touch it.
        var system = await Http.Post("/api/execute", new { path = "system/projector", workload = new { events = new JsonArray() } });
        Assert.True(system.Status == HttpStatusCode.OK, system.Text);
        var systemExecution = AssertIdString(system.Json["execution_id"]);
        // Rows of these two catalog entries: what a refused stop, rerun or analysis must leave alone.
        const string Executions = "SELECT count(*) FROM noetl.execution x JOIN noetl.catalog c ON c.catalog_id = x.catalog_id WHERE c.path IN ($1, 'system/projector')";
        const string Events = "SELECT count(*) FROM noetl.event WHERE execution_id IN ($1, $2)";
        var executionsBefore = await fixture.System.AdminCountAsync(Executions, path);
        var eventsBefore = await fixture.System.AdminCountAsync(Events, executionId, systemExecution);

        foreach (var route in new[] { "stop", "rerun", "analyze" })
        {
            await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/abc/{route}");
            await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/99999999999999999999/{route}");
            var unknown = await Refused(HttpStatusCode.NotFound, HttpMethod.Post, $"/api/executions/123/{route}");
            Assert.Equal("Execution not found", unknown.Json["detail"]!.GetValue<string>());
            await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/{route}", raw: "{\"x\": ");
            await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/{route}", raw: "[1, 2]");
            await Refused(HttpStatusCode.RequestEntityTooLarge, HttpMethod.Post, $"/api/executions/{executionId}/{route}", raw: HugeWorkload);
        }
        await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/stop", raw: "{\"reason\": 5}");
        await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/rerun", raw: "{\"workload\": \"x\"}");
        await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/rerun", raw: "{\"workload\": [1]}");
        await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/analyze", raw: "{\"limit\": \"many\"}");
        await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/analyze", raw: "{\"limit\": 0}");
        await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{executionId}/analyze", raw: "{\"limit\": 1000}");

        // The keys a system playbook fixes stay fixed on a rerun, whoever asks.
        var overridden = await Refused(HttpStatusCode.UnprocessableEntity, HttpMethod.Post, $"/api/executions/{systemExecution}/rerun",
            raw: "{\"workload\": {\"server_url\": \"http://attacker.example\"}}");
        Assert.Contains("server_url", overridden.Text);
        // A worker token of another pool: no stop (an operator's route), no rerun, no analysis of the system pool's execution.
        var stop = await Refused(HttpStatusCode.Forbidden, HttpMethod.Post, $"/api/executions/{systemExecution}/stop", bearer: Bearers.SharedPool);
        var rerun = await Refused(HttpStatusCode.Forbidden, HttpMethod.Post, $"/api/executions/{systemExecution}/rerun", bearer: Bearers.SharedPool);
        Assert.Equal("wrong_pool", rerun.Json["detail"]!["code"]!.GetValue<string>());
        var analyze = await Refused(HttpStatusCode.Forbidden, HttpMethod.Post, $"/api/executions/{systemExecution}/analyze", bearer: Bearers.SharedPool);
        Assert.Equal("wrong_pool", analyze.Json["detail"]!["code"]!.GetValue<string>());
        Assert.NotNull(stop.Json["detail"]);

        Assert.Equal(executionsBefore, await fixture.System.AdminCountAsync(Executions, path));
        Assert.Equal(eventsBefore, await fixture.System.AdminCountAsync(Events, executionId, systemExecution));
        Assert.Equal("RUNNING", (await Http.Status(systemExecution))["status"]!.GetValue<string>());

        // Its own pool may analyze it; the operator may rerun it without naming the fixed keys.
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Post, $"/api/executions/{systemExecution}/analyze", bearer: Bearers.SystemPool)).Status);
        var again = await Http.Post($"/api/executions/{systemExecution}/rerun");
        Assert.True(again.Status == HttpStatusCode.OK, again.Text);
    }

    /// <summary>A workload past the gateway's 16 MiB body limit.</summary>
    private static readonly string HugeWorkload = $"{{\"workload\": {{\"x\": \"{new string('x', 17 << 20)}\"}}}}";

    private async Task<ApiResponse> Refused(HttpStatusCode expected, HttpMethod method, string target, string? raw = null, string? bearer = null)
    {
        // As a careful client of a size-limited server: the gateway may answer 413 before the upload ends.
        var headers = raw?.Length > 1 << 20 ? new Dictionary<string, string> { ["Expect"] = "100-continue" } : null;
        var response = await Http.Send(method, target, rawBody: raw, bearer: bearer, headers: headers);
        Assert.True(response.Status == expected, $"{method} {target}: expected {(int)expected}, got {(int)response.Status} {response.Text[..Math.Min(300, response.Text.Length)]}");
        if (expected != HttpStatusCode.RequestEntityTooLarge)
            Assert.NotNull(response.Json["detail"]);
        return response;
    }

    private async Task<JsonNode> Detail(long executionId, string query)
    {
        var response = await Http.Get($"/api/executions/{executionId}?{query}");
        Assert.True(response.Status == HttpStatusCode.OK, $"detail: {(int)response.Status} {response.Text}");
        var detail = response.Json;
        Assert.Equal(executionId, AssertIdString(detail["execution_id"]));
        AssertIdString(detail["catalog_id"]);
        AssertUtc(detail["start_time"]);
        return detail;
    }

    /// <summary>The page's events: ids strictly decreasing, every id a string (meta's too), every time in UTC.</summary>
    private static List<JsonNode?> AssertNewestFirst(JsonNode detail)
    {
        var events = detail["events"]!.AsArray().ToList();
        var ids = events.Select(e => AssertIdString(e!["event_id"])).ToList();
        Assert.Equal(ids.OrderByDescending(id => id), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var e in events)
        {
            AssertIdString(e!["catalog_id"]);
            if (e["parent_event_id"] is { } parent)
                AssertIdString(parent);
            if (e["parent_execution_id"] is { } parentExecution)
                AssertIdString(parentExecution);
            if (e["meta"]?["command_id"] is { } commandId)
                AssertIdString(commandId);
            AssertUtc(e["created_at"]);
            AssertUtc(e["timestamp"]);
        }
        return events;
    }

    private static long AssertIdString(JsonNode? id)
    {
        Assert.True(id is JsonValue value && value.GetValueKind() == JsonValueKind.String, $"expected an id string, got {id?.ToJsonString() ?? "nothing"}");
        return long.Parse(id!.GetValue<string>(), CultureInfo.InvariantCulture);
    }

    private static void AssertUtc(JsonNode? time)
    {
        var text = time?.GetValue<string>();
        Assert.True(text is not null && text.EndsWith('Z'), $"expected a UTC timestamp, got {text ?? "nothing"}");
        Assert.True(DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) && parsed.Offset == TimeSpan.Zero, text);
    }
}
