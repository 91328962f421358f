namespace NoEtl.Schema.Tests;

[Alias("NoEtl.Schema.Tests.ICounterGrain")]
public interface ICounterGrain : IGrainWithStringKey
{
    [Alias("Increment")]
    Task<int> Increment();

    [Alias("Get")]
    Task<int> Get();

    [Alias("Clear")]
    Task Clear();

    [Alias("Deactivate")]
    Task Deactivate();
}

[GenerateSerializer]
[Alias("NoEtl.Schema.Tests.CounterState")]
public sealed class CounterState
{
    [Id(0)]
    public int Value { get; set; }
}

public sealed class CounterGrain([PersistentState("counter", "Default")] IPersistentState<CounterState> state) : Grain, ICounterGrain
{
    public async Task<int> Increment()
    {
        state.State.Value++;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> Get() => Task.FromResult(state.State.Value);

    public Task Clear() => state.ClearStateAsync();

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

[Alias("NoEtl.Schema.Tests.IReminderProbeGrain")]
public interface IReminderProbeGrain : IGrainWithStringKey
{
    [Alias("Start")]
    Task Start();

    [Alias("Ticks")]
    Task<int> Ticks();

    [Alias("Stop")]
    Task Stop();
}

public sealed class ReminderProbeGrain : Grain, IReminderProbeGrain, IRemindable
{
    private const string Name = "probe";
    private int _ticks;

    public Task Start() => this.RegisterOrUpdateReminder(Name, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

    public Task<int> Ticks() => Task.FromResult(_ticks);

    public async Task Stop()
    {
        var reminder = await this.GetReminder(Name);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        _ticks++;
        return Task.CompletedTask;
    }
}
