using System.Runtime.CompilerServices;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Orchestration.Engine;

/// <summary>
/// Static structure of a workflow. Arcs are split by a depth-first walk from the entry step into back-edges (closing a loop) and
/// forward arcs. Liveness questions ("can this step still run in this pass?") follow forward arcs only: a back-edge leads to the
/// next iteration, which must not hold up or invalidate the current one.
/// </summary>
internal sealed class WorkflowGraph
{
    private static readonly ConditionalWeakTable<Playbook, WorkflowGraph> Cache = new();

    private readonly Dictionary<string, List<string>> _successors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _forwardSuccessors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _forwardUpstreams = new(StringComparer.Ordinal);
    private readonly HashSet<(string, string)> _backEdges;

    private WorkflowGraph(Playbook playbook)
    {
        foreach (var step in playbook.Steps)
        {
            _successors[step.Name] = step.Arcs.Select(a => a.Step).Where(t => playbook.FindStep(t) is not null).Distinct().ToList();
            _forwardSuccessors[step.Name] = [];
            _forwardUpstreams[step.Name] = [];
        }
        _backEdges = FindBackEdges(playbook);
        foreach (var (source, targets) in _successors)
        {
            foreach (var target in targets.Where(t => !_backEdges.Contains((source, t))))
            {
                _forwardSuccessors[source].Add(target);
                _forwardUpstreams[target].Add(source);
            }
        }
    }

    public static WorkflowGraph For(Playbook playbook) => Cache.GetValue(playbook, p => new WorkflowGraph(p));

    public IReadOnlyList<string> ForwardUpstreams(string step) => _forwardUpstreams[step];

    /// <summary>
    /// Whether the arc closes a loop. Forward arcs form a DAG, so the target of a forward arc never reaches its source:
    /// a barrier at that target cannot cut the source off, and only back edges need a reachability walk of their own.
    /// </summary>
    public bool IsBackEdge(string source, string target) => _backEdges.Contains((source, target));

    /// <summary>Back edges of a depth-first walk from the entry step (then from any unvisited step, in workflow order), arcs in order.</summary>
    private HashSet<(string, string)> FindBackEdges(Playbook playbook)
    {
        var backEdges = new HashSet<(string, string)>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var roots = new[] { playbook.EntryStep }.Concat(playbook.Steps.Select(s => s.Name)).Where(_successors.ContainsKey);
        foreach (var root in roots)
        {
            if (!visited.Add(root))
                continue;
            onStack.Add(root);
            var stack = new Stack<(string Node, int Next)>();
            stack.Push((root, 0));
            while (stack.Count > 0)
            {
                var (node, next) = stack.Pop();
                var successors = _successors[node];
                if (next >= successors.Count)
                {
                    onStack.Remove(node);
                    continue;
                }
                stack.Push((node, next + 1));
                var target = successors[next];
                if (onStack.Contains(target))
                {
                    backEdges.Add((node, target));
                }
                else if (visited.Add(target))
                {
                    onStack.Add(target);
                    stack.Push((target, 0));
                }
            }
        }
        return backEdges;
    }

    /// <summary>Steps reachable over forward arcs from <paramref name="sources"/> (sources included) without entering <paramref name="barrier"/>.</summary>
    public HashSet<string> ReachableFrom(IEnumerable<string> sources, string? barrier)
    {
        var reached = new HashSet<string>(StringComparer.Ordinal);
        Extend(reached, sources, barrier);
        return reached;
    }

    /// <summary>Adds to <paramref name="reached"/> what <paramref name="sources"/> reach; steps already in it are not walked again.</summary>
    public void Extend(HashSet<string> reached, IEnumerable<string> sources, string? barrier = null)
    {
        var queue = new Queue<string>();
        foreach (var source in sources)
        {
            if (source != barrier && reached.Add(source))
                queue.Enqueue(source);
        }
        while (queue.Count > 0)
        {
            foreach (var next in _forwardSuccessors[queue.Dequeue()])
            {
                if (next != barrier && reached.Add(next))
                    queue.Enqueue(next);
            }
        }
    }
}
