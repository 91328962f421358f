using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Runtime;

public static class WorkerPoolEndpoints
{
    public static void MapWorkerPoolEndpoints(this IEndpointRouteBuilder app)
    {
        var pool = app.MapGroup("/api/worker/pool");

        pool.MapPost("/register", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var registration = ReadRegistration(body);
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IWorkerPoolGrain>(0).Register(registration).ToHttp();
        }).ForWorkers();

        pool.MapPost("/heartbeat", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var registrationFields = body.Object("registration");
            var registration = registrationFields is null ? null : ReadRegistration(body.Nested(registrationFields, "registration"));
            var name = body.String("name") ?? registration?.Name;
            if (string.IsNullOrWhiteSpace(name))
                body.Add("missing", "name", "Field required");
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IWorkerPoolGrain>(0).Heartbeat(name!, registration).ToHttp();
        }).ForWorkers();

        // NoETL's Python server routes both verbs; the Rust worker uses POST.
        pool.MapMethods("/deregister", ["POST", "DELETE"], async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var name = body.RequiredString("name");
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IWorkerPoolGrain>(0).Deregister(name).ToHttp();
        }).ForWorkers();

        app.MapGet("/api/worker/pools", (IGrainFactory grains, string? runtime, string? status) =>
            grains.Reference<IWorkerPoolGrain>(0).List(runtime, status).ToHttp()).ForOperators();
    }

    private static WorkerRegistration ReadRegistration(RequestBody body)
    {
        var name = body.RequiredString("name");
        var runtime = body.String("runtime");
        var uri = body.Text("uri", "base_url");
        var status = body.String("status") ?? "ready";
        var capacity = body.Int("capacity", 0);
        var labels = body.Object("labels");
        var pid = body.Int("pid");
        var hostname = body.String("hostname");
        var meta = body.Object("meta");
        return new WorkerRegistration(name, runtime, uri, status, capacity, labels?.ToJsonString(), pid, hostname, meta?.ToJsonString());
    }
}
