namespace OrleansBroker.Queues;

/// <summary>What a queue tells a consumer that registered.</summary>
/// <param name="RenewEvery">How often the consumer must call Subscribe again to stay registered.</param>
/// <param name="ExpiresAfter">How long without a renewal before the queue drops the consumer.</param>
/// <param name="Partitions">The queue's partition count now: a consumer registers with every partition (see <see cref="QueuePartitions"/>).</param>
[GenerateSerializer, Immutable, Alias("ob.consumer-registration")]
public sealed record ConsumerRegistration(
    [property: Id(0)] TimeSpan RenewEvery,
    [property: Id(1)] TimeSpan ExpiresAfter,
    [property: Id(2)] int Partitions = 1);
