using OrleansBroker.Messages;

namespace OrleansBroker.Server.Queues.Dispatch;

/// <summary>
/// A receive call (pull, as SQS ReceiveMessage or Service Bus ReceiveMessages) waiting for messages: dispatch leases it what
/// is ready, up to <see cref="Max"/>, and it is answered once the commit holding their attempt counts has landed.
/// </summary>
internal sealed class PendingReceive(int max, TimeSpan lease)
{
    public int Max { get; } = max;

    /// <summary>How long each lease of this receive lasts.</summary>
    public TimeSpan Lease { get; } = lease;

    /// <summary>What dispatch leased to it.</summary>
    public List<Delivery> Batch { get; } = [];

    /// <summary>Dispatch gave it its batch and no longer offers it messages; the answer follows the attempt commit.</summary>
    public bool Taken { get; set; }

    public TaskCompletionSource<IReadOnlyList<Delivery>> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
