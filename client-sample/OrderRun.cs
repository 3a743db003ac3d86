using System.Collections.Concurrent;

namespace OrleansBroker.ClientSample;

/// <summary>
/// What one run of the sample publishes and waits for. Ids are unique per run, so a second run is not held up by the
/// first one's entries in the queue's dedup window; orders left over from an earlier run are handled, not counted.
/// </summary>
public sealed class OrderRun(int orders, TimeSpan deadline)
{
    private readonly ConcurrentDictionary<string, byte> _open = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string RunId { get; } = Guid.NewGuid().ToString("N")[..8];

    public int Orders => orders;

    public TimeSpan Deadline => deadline;

    /// <summary>The order no worker can parse.</summary>
    public string BadOrderId => $"{RunId}-order-bad";

    public string OrderId(int number) => $"{RunId}-order-{number}";

    /// <summary>Completes when every order of this run was reserved and the bad one was read from the dead-letter queue.</summary>
    public Task Settled => _settled.Task;

    public bool Succeeded { get; private set; }

    public void Expect(string orderId) => _open.TryAdd(orderId, 0);

    /// <summary>An order of this run is done (reserved, or read as a dead letter); other runs' orders are ignored.</summary>
    public void Done(string orderId)
    {
        if (_open.TryRemove(orderId, out _) && _open.IsEmpty)
        {
            Succeeded = true;
            _settled.TrySetResult();
        }
    }
}
