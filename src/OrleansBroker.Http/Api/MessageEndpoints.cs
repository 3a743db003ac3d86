using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Http.Security;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Topics;

namespace OrleansBroker.Http.Api;

/// <summary>The data plane: publish (one message per request, or a JSON batch), receive with a lease, settle.</summary>
internal static class MessageEndpoints
{
    public static void MapPublish(RouteGroupBuilder queue, RouteGroupBuilder topic)
    {
        queue.MapPost("/messages", PublishToQueueAsync).RequireAuthorization(Policies.Send);
        queue.MapPost("/messages/batch", PublishBatchToQueueAsync).RequireAuthorization(Policies.Send).Accepts<JsonMessage[]>("application/json");
        topic.MapPost("/messages", PublishToTopicAsync).RequireAuthorization(Policies.Send);
        topic.MapPost("/messages/batch", PublishBatchToTopicAsync).RequireAuthorization(Policies.Send).Accepts<JsonMessage[]>("application/json");
    }

    /// <summary>Receive and settle, on a queue's route or a subscription's.</summary>
    public static void MapReceive(RouteGroupBuilder group)
    {
        group.MapPost("/messages/receive", ReceiveAsync).RequireAuthorization(Policies.Receive);
        group.MapPost("/messages/{sequence:long}/complete", (HttpContext http, long sequence, IBrokerClient broker) =>
            SettleAsync(http, sequence, (delivery, request, ct) => broker.CompleteAsync(delivery, ct))).RequireAuthorization(Policies.Receive).Accepts<SettleRequest>("application/json");
        group.MapPost("/messages/{sequence:long}/abandon", (HttpContext http, long sequence, IBrokerClient broker) =>
            SettleAsync(http, sequence, (delivery, request, ct) => broker.AbandonAsync(delivery,
                request.RetryAfterSeconds is { } seconds ? MessageHeaders.Seconds(seconds, "retryAfterSeconds") : null, ct)))
            .RequireAuthorization(Policies.Receive).Accepts<SettleRequest>("application/json");
        group.MapPost("/messages/{sequence:long}/dead-letter", (HttpContext http, long sequence, IBrokerClient broker) =>
            SettleAsync(http, sequence, (delivery, request, ct) => broker.DeadLetterAsync(delivery, request.Reason, ct))).RequireAuthorization(Policies.Receive)
            .Accepts<SettleRequest>("application/json");
        group.MapPost("/messages/{sequence:long}/renew", RenewAsync).RequireAuthorization(Policies.Receive).Accepts<SettleRequest>("application/json");
    }

    private static async Task<Created<PublishReceipt>> PublishToQueueAsync(HttpContext http, IBrokerClient broker, IOptions<BrokerOptions> options)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var message = MessageHeaders.Read(http.Request, await ReadBodyAsync(http, options.Value.MaxMessageBytes));
        return TypedResults.Created((string?)null, await broker.PublishAsync(queue, message, http.RequestAborted));
    }

    private static async Task<Created<IReadOnlyList<PublishReceipt>>> PublishBatchToQueueAsync(HttpContext http, IBrokerClient broker)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var messages = await ReadBatchAsync(http);
        return TypedResults.Created((string?)null, await broker.PublishBatchAsync(queue, messages, http.RequestAborted));
    }

    private static async Task<Created<TopicReceipt>> PublishToTopicAsync(HttpContext http, IBrokerClient broker, IOptions<BrokerOptions> options)
    {
        var topic = BrokerRequest.QualifiedName(http);
        var message = MessageHeaders.Read(http.Request, await ReadBodyAsync(http, options.Value.MaxMessageBytes));
        return TypedResults.Created((string?)null, Shown(await broker.PublishToTopicAsync(topic, message, http.RequestAborted)));
    }

    private static async Task<Created<IReadOnlyList<TopicReceipt>>> PublishBatchToTopicAsync(HttpContext http, IBrokerClient broker)
    {
        var topic = BrokerRequest.QualifiedName(http);
        var messages = await ReadBatchAsync(http);
        var receipts = await broker.PublishBatchToTopicAsync(topic, messages, http.RequestAborted);
        return TypedResults.Created((string?)null, (IReadOnlyList<TopicReceipt>)[.. receipts.Select(Shown)]);
    }

    /// <summary><c>?max=</c> messages (default 1, up to 1000), <c>wait=</c> seconds for the first (default 0, up to 20), <c>lease=</c> seconds (default the queue's).</summary>
    private static async Task<Results<Ok<JsonDelivery[]>, NoContent>> ReceiveAsync(HttpContext http, IBrokerClient broker)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var request = http.Request;
        var deliveries = await broker.ReceiveAsync(queue, MessageHeaders.QueryInteger(request, "max") ?? 1, MessageHeaders.QuerySeconds(request, "wait"),
            MessageHeaders.QuerySeconds(request, "lease"), http.RequestAborted);
        return deliveries.Count == 0 ? TypedResults.NoContent() : TypedResults.Ok(deliveries.Select(JsonDelivery.From).ToArray());
    }

    private static async Task<NoContent> SettleAsync(HttpContext http, long sequence, Func<Delivery, SettleRequest, CancellationToken, Task> settle)
    {
        var (delivery, request) = await LeasedAsync(http, sequence);
        try
        {
            await settle(delivery, request, http.RequestAborted);
        }
        catch (BrokerException error) when (error.Code == BrokerErrorCode.LeaseLost)
        {
            throw LeaseLost(sequence);
        }

        return TypedResults.NoContent();
    }

    private static async Task<Ok<RenewedLease>> RenewAsync(HttpContext http, long sequence, IBrokerClient broker)
    {
        var (delivery, request) = await LeasedAsync(http, sequence);
        var duration = request.LeaseSeconds is { } seconds ? MessageHeaders.Seconds(seconds, "leaseSeconds") : QueueOptions.DefaultLeaseDuration;
        try
        {
            return TypedResults.Ok(new RenewedLease(await broker.RenewLeaseAsync(delivery, duration, http.RequestAborted)));
        }
        catch (BrokerException error) when (error.Code == BrokerErrorCode.LeaseLost)
        {
            throw LeaseLost(sequence);
        }
    }

    /// <summary>The delivery a settle names: its partition and lease token from the lock token in the body.</summary>
    private static async Task<(Delivery Delivery, SettleRequest Request)> LeasedAsync(HttpContext http, long sequence)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var request = await JsonBodies.ReadAsync<SettleRequest>(http.Request, "a settle request ({\"lockToken\": \"...\"})", BrokerErrorCode.InvalidOptions);
        var (partition, token) = LockToken.Parse(request.LockToken);
        var name = QueuePartitions.NameOf(queue, partition);
        return (new Delivery(name, sequence.ToString(CultureInfo.InvariantCulture), sequence, [], null, null, null, default, 0, token, default), request);
    }

    private static BrokerException LeaseLost(long sequence) => new(BrokerErrorCode.LeaseLost,
        $"Message {sequence}: the lock token is not (or no longer) valid; its lease ended or it was settled. It may be delivered again.");

    /// <summary>The single message's body, refused past the silo's message size before it is all read.</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpContext http, int maxBytes)
    {
        var request = http.Request;
        if (request.ContentLength is { } length)
        {
            // The usual request: the length is known (Kestrel holds the body to it), so the body is read once into its array.
            if (length > maxBytes)
            {
                throw TooLarge(maxBytes);
            }

            var body = new byte[length];
            await request.Body.ReadExactlyAsync(body, http.RequestAborted);
            return body;
        }

        // Chunked: read until the end, refused as soon as it passes the limit.
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw TooLarge(maxBytes);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static BrokerException TooLarge(int maxBytes) =>
        new(BrokerErrorCode.MessageTooLarge, $"The message body is larger than this broker's limit of {maxBytes} bytes (Broker:MaxMessageBytes).");

    private static async Task<IReadOnlyList<BrokerMessage>> ReadBatchAsync(HttpContext http)
    {
        var batch = await JsonBodies.ReadAsync<JsonMessage[]>(http.Request, "a JSON array of messages");
        if (batch.Length is 0 or > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidBatch, $"A batch holds 1 to {BrokerLimits.MaxBatchCount} messages; this one holds {batch.Length}.");
        }

        var messages = new BrokerMessage[batch.Length];
        for (var i = 0; i < batch.Length; i++)
        {
            messages[i] = (batch[i] ?? throw new BrokerException(BrokerErrorCode.InvalidMessage, $"Message {i} is null.")).ToMessage(i);
        }

        return messages;
    }

    /// <summary>A topic receipt with the tenant's own subscription names.</summary>
    private static TopicReceipt Shown(TopicReceipt receipt) => receipt with
    {
        Subscriptions = [.. receipt.Subscriptions.Select(TenantNames.Own)],
        DeadLettered = receipt.DeadLettered is { } dead ? [.. dead.Select(TenantNames.Own)] : null,
    };
}

/// <summary>The answer to a lease renewal.</summary>
internal sealed record RenewedLease(DateTimeOffset LeaseExpiresAt);
