using System.Text;
using OrleansBroker.Delivery;
using OrleansBroker.Messages;

namespace OrleansBroker.Client;

/// <summary>Convenience overloads over <see cref="IBrokerClient"/>.</summary>
public static class BrokerClientExtensions
{
    /// <summary>Publishes a UTF-8 text body.</summary>
    public static Task<PublishReceipt> PublishAsync(this IBrokerClient client, string queue, string body, string? messageId = null, CancellationToken cancellationToken = default) =>
        client.PublishAsync(queue, new BrokerMessage(messageId, Encoding.UTF8.GetBytes(body), "text/plain"), cancellationToken);

    /// <summary>
    /// Makes sure a queue exists, like AMQP's passive-or-create declare: creates it with default
    /// options when missing and leaves an existing queue as it is, whatever its options.
    /// </summary>
    public static Task CreateQueueIfMissingAsync(this IBrokerClient client, string queue, CancellationToken cancellationToken = default) =>
        client.CreateQueueIfMissingAsync(queue, null, cancellationToken);

    /// <summary>As <see cref="CreateQueueIfMissingAsync(IBrokerClient, string, CancellationToken)"/>, creating a missing queue with <paramref name="options"/>.</summary>
    public static async Task CreateQueueIfMissingAsync(this IBrokerClient client, string queue, Queues.QueueOptions? options, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.CreateQueueAsync(queue, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Errors.BrokerException exception) when (exception.Code == Errors.BrokerErrorCode.QueueExistsWithOtherOptions)
        {
            // It exists with options of its own: use it as it is.
        }
    }

    /// <summary>Acks a delivery: the message is done.</summary>
    public static Task AckAsync(this IBrokerClient client, Delivery.Delivery delivery, CancellationToken cancellationToken = default) =>
        client.SettleAsync(delivery, SettleKind.Ack, null, null, cancellationToken);

    /// <summary>Nacks a delivery: requeue it (after the queue's retry backoff), or dead-letter it with <paramref name="reason"/>.</summary>
    public static Task NackAsync(this IBrokerClient client, Delivery.Delivery delivery, bool deadLetter = false, string? reason = null, CancellationToken cancellationToken = default) =>
        client.SettleAsync(delivery, deadLetter ? SettleKind.DeadLetter : SettleKind.Requeue, reason, null, cancellationToken);

    /// <summary>Nacks a delivery to have it delivered again after <paramref name="delay"/>, whatever the queue's retry backoff says.</summary>
    public static Task RetryLaterAsync(this IBrokerClient client, Delivery.Delivery delivery, TimeSpan delay, CancellationToken cancellationToken = default) =>
        client.SettleAsync(delivery, SettleKind.Requeue, null, delay, cancellationToken);

    /// <summary>The body as UTF-8 text.</summary>
    public static string BodyText(this Delivery.Delivery delivery) => Encoding.UTF8.GetString(delivery.Body);
}
