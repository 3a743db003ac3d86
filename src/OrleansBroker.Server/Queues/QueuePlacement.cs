using Orleans.Placement;
using Orleans.Runtime.Placement;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// Where a queue grain is activated: partition <c>i</c> of queue <c>q</c> goes to silo <c>(hash(q) + i) mod silos</c> of the
/// active silos in address order. A queue's partitions so land on consecutive silos (8 partitions on 3 silos: 3, 3 and 2), and
/// unpartitioned queues spread by name hash. Placement runs when a grain activates: at first use, and again after its silo
/// failed or shut down, when the list no longer holds that silo. An activation is never moved while it runs.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
internal sealed class QueuePartitionPlacement : PlacementStrategy
{
    internal static readonly QueuePartitionPlacement Instance = new();
}

/// <summary>Places a grain class with <see cref="QueuePartitionPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
internal sealed class QueuePartitionPlacementAttribute : PlacementAttribute
{
    public QueuePartitionPlacementAttribute()
        : base(QueuePartitionPlacement.Instance)
    {
    }
}

/// <summary>The director of <see cref="QueuePartitionPlacement"/>.</summary>
internal sealed class QueuePartitionPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).Order().ToArray();
        var (queue, index) = QueuePartitions.Parse(target.GrainIdentity.Key.ToString());
        var slot = (int)((QueuePartitions.Hash(queue) + (uint)index) % (uint)silos.Length);
        return Task.FromResult(silos[slot]);
    }
}
