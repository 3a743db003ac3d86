using Microsoft.AspNetCore.Http;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Queues;

namespace OrleansBroker.Http.Api;

/// <summary>
/// <c>GET /api/queues?page=&amp;pageSize=&amp;name=&amp;sort=&amp;sortReverse=</c>, in the shape of RabbitMQ's paged lists: the
/// queues whose name holds <c>name</c> (any case), sorted, one page of them. Sorted by name (the default) only the page's
/// queues are read, so a page of a tenant with 10,000 queues costs one registry read and a page of queue reads; sorted by a
/// figure, every matching queue is read first.
/// </summary>
internal sealed record QueuePageRequest(int Page, int PageSize, string? Name, string Sort, bool Descending)
{
    /// <summary>Rows per page unless <c>pageSize</c> says otherwise.</summary>
    public const int DefaultPageSize = 50;

    /// <summary>Most rows one page may ask for.</summary>
    public const int MaxPageSize = 500;

    private static readonly Dictionary<string, Func<QueueInfo, long>> Figures = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ready"] = i => i.Ready,
        ["inFlight"] = i => i.InFlight,
        ["delayed"] = i => i.Delayed,
        ["depth"] = i => i.Depth,
        ["bytes"] = i => i.Bytes,
        ["consumers"] = i => i.Consumers,
        ["partitions"] = i => Math.Max(1, i.Partitions?.Count ?? 0),
        ["published"] = i => i.Counters.Published,
        ["deadLettered"] = i => i.Counters.DeadLettered,
    };

    /// <summary>The page a request asks for, or null when it has no <c>page</c> (the whole list).</summary>
    public static QueuePageRequest? From(HttpRequest request)
    {
        if (MessageHeaders.QueryInteger(request, "page") is not { } page)
        {
            return null;
        }

        var size = MessageHeaders.QueryInteger(request, "pageSize") ?? DefaultPageSize;
        if (page < 1 || size is < 1 or > MaxPageSize)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"page starts at 1 and pageSize is 1 to {MaxPageSize} (given page {page}, pageSize {size}).");
        }

        var sort = request.Query["sort"].ToString() is { Length: > 0 } given ? given : "name";
        if (!sort.Equals("name", StringComparison.OrdinalIgnoreCase) && !Figures.ContainsKey(sort))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Query parameter sort: '{MessageHeaders.Clip(sort)}' is not one of name, {string.Join(", ", Figures.Keys)}.");
        }

        var descending = request.Query["sortReverse"].ToString() switch
        {
            "" or "false" => false,
            "true" => true,
            var other => throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Query parameter sortReverse: '{MessageHeaders.Clip(other)}' is not true or false."),
        };
        return new QueuePageRequest(page, size, request.Query["name"].ToString() is { Length: > 0 } name ? name : null, sort, descending);
    }

    /// <summary>The page of <paramref name="queues"/> (names inside the cluster), each with the depth of its dead-letter queue.</summary>
    public async Task<QueuePage> ReadAsync(IBrokerAdministrationClient admin, QueueRates rates, IReadOnlyList<string> queues, CancellationToken cancellationToken)
    {
        var matching = queues.Where(q => Name is null || TenantNames.Own(q).Contains(Name, StringComparison.OrdinalIgnoreCase)).ToList();
        IReadOnlyList<QueueInfo> rows;
        if (Figures.TryGetValue(Sort, out var figure))
        {
            var all = await admin.GetQueueInfosAsync(matching, cancellationToken);
            var sorted = Descending ? all.OrderByDescending(figure) : all.OrderBy(figure);
            rows = [.. sorted.ThenBy(i => i.Name, StringComparer.Ordinal).Skip((Page - 1) * PageSize).Take(PageSize)];
        }
        else
        {
            matching.Sort(StringComparer.Ordinal);
            if (Descending)
            {
                matching.Reverse();
            }

            rows = await admin.GetQueueInfosAsync(matching.Skip((Page - 1) * PageSize).Take(PageSize), cancellationToken);
        }

        var deadLetterQueues = rows.Select(i => i.Options.ResolveDeadLetterQueue(i.Name)).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var deadLetters = (await admin.GetQueueInfosAsync(deadLetterQueues, cancellationToken)).ToDictionary(i => i.Name, i => i.Depth, StringComparer.Ordinal);
        var items = rows.Select(info => QueueSummary.Of(info, rates) with
        {
            DeadLetterDepth = info.Options.ResolveDeadLetterQueue(info.Name) is { } dlq ? deadLetters.GetValueOrDefault(dlq) : (long?)null,
        }).ToArray();
        return new QueuePage(items, Page, PageSize, Math.Max(1, (matching.Count + PageSize - 1) / PageSize), matching.Count, queues.Count);
    }
}

/// <summary>One page of queues: <c>filteredCount</c> queues match the name filter, of <c>totalCount</c> the caller may manage.</summary>
internal sealed record QueuePage(QueueSummary[] Items, int Page, int PageSize, int PageCount, int FilteredCount, int TotalCount);
