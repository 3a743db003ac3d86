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

    /// <summary>Acks a delivery: the message is done.</summary>
    public static Task AckAsync(this IBrokerClient client, Delivery.Delivery delivery, CancellationToken cancellationToken = default) =>
        client.SettleAsync(delivery, SettleKind.Ack, null, cancellationToken);

    /// <summary>Nacks a delivery: requeue it now, or dead-letter it with <paramref name="reason"/>.</summary>
    public static Task NackAsync(this IBrokerClient client, Delivery.Delivery delivery, bool deadLetter = false, string? reason = null, CancellationToken cancellationToken = default) =>
        client.SettleAsync(delivery, deadLetter ? SettleKind.DeadLetter : SettleKind.Requeue, reason, cancellationToken);

    /// <summary>The body as UTF-8 text.</summary>
    public static string BodyText(this Delivery.Delivery delivery) => Encoding.UTF8.GetString(delivery.Body);
}
