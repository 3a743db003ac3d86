using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Client;

/// <summary>Convenience overloads over <see cref="IBrokerClient"/>.</summary>
public static class BrokerClientExtensions
{
    /// <summary>Publishes a UTF-8 text body (content type <c>text/plain</c>).</summary>
    public static Task<PublishReceipt> PublishAsync(this IBrokerClient client, string queue, string body, string? messageId = null, CancellationToken cancellationToken = default) =>
        client.PublishAsync(queue, new BrokerMessage(messageId, Encoding.UTF8.GetBytes(body), "text/plain"), cancellationToken);

    /// <summary>The body as UTF-8 text.</summary>
    public static string BodyText(this Delivery delivery) => Encoding.UTF8.GetString(delivery.Body);
}

/// <summary>Convenience overloads over <see cref="IBrokerAdministrationClient"/>.</summary>
public static class BrokerAdministrationClientExtensions
{
    /// <summary>
    /// Makes sure a queue exists, like AMQP's passive-or-create declare: creates it with default
    /// options when missing and leaves an existing queue as it is, whatever its options.
    /// </summary>
    public static Task CreateQueueIfMissingAsync(this IBrokerAdministrationClient admin, string queue, CancellationToken cancellationToken = default) =>
        admin.CreateQueueIfMissingAsync(queue, null, cancellationToken);

    /// <summary>As <see cref="CreateQueueIfMissingAsync(IBrokerAdministrationClient, string, CancellationToken)"/>, creating a missing queue with <paramref name="options"/>.</summary>
    public static async Task CreateQueueIfMissingAsync(this IBrokerAdministrationClient admin, string queue, QueueOptions? options, CancellationToken cancellationToken = default)
    {
        try
        {
            await admin.CreateQueueAsync(queue, options, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueExistsWithOtherOptions)
        {
            // It exists with options of its own: use it as it is.
        }
    }
}
