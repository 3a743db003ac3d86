using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Server.Queues;

/// <summary>The durable set of queue names. Small (names only), so one record is fine.</summary>
internal sealed class QueueRegistryGrain(
    [PersistentState("queues", BrokerOptions.StateStorageProviderName)] IPersistentState<QueueRegistryState> state)
    : Grain, IQueueRegistryGrain
{
    public async Task Add(string queue)
    {
        if (state.State.Names.Add(queue))
        {
            await state.WriteStateAsync();
        }
    }

    public async Task Remove(string queue)
    {
        if (state.State.Names.Remove(queue))
        {
            await state.WriteStateAsync();
        }
    }

    public Task<IReadOnlyList<string>> List() =>
        Task.FromResult<IReadOnlyList<string>>(state.State.Names.Order(StringComparer.Ordinal).ToList());
}

/// <summary>Persisted state of <see cref="QueueRegistryGrain"/>.</summary>
[GenerateSerializer, Alias("ob.queue-registry")]
internal sealed class QueueRegistryState
{
    [Id(0)] public HashSet<string> Names { get; set; } = new(StringComparer.Ordinal);
}
