namespace NoEtl.Integration.Tests;

/// <summary>Playbooks written for these tests.</summary>
public static class Playbooks
{
    /// <summary>Two noop steps; the second reads the workload.</summary>
    public static string TwoSteps(string path) => $$$"""
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: gui_two_steps
          path: {{{path}}}
        workload:
          greeting: hello
          count: 2
        workflow:
          - step: start
            tool: {kind: noop}
            next:
              arcs:
                - step: finish
          - step: finish
            input:
              count: "{{ workload.count }}"
            tool: {kind: noop}
        """;

    /// <summary>Three steps; each step's input reads the workload and the previous step's result.</summary>
    public static string ThreeSteps(string path) => $$$"""
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: three_steps
          path: {{{path}}}
        workload:
          greeting: hello
          count: 2
        workflow:
          - step: start
            tool:
              kind: noop
              result:
                message: "{{ workload.greeting }}"
            next:
              arcs:
                - step: double
          - step: double
            input:
              count: "{{ workload.count }}"
              previous: "{{ start.message }}"
            tool:
              kind: python
              code: "result = {'value': count * 2}"
            next:
              arcs:
                - step: finish
          - step: finish
            input:
              doubled: "{{ double.value }}"
            tool:
              kind: noop
        """;

    /// <summary>One step, for tests that only need a command to claim.</summary>
    public static string OneStep(string path) => $$$"""
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: one_step
          path: {{{path}}}
        workflow:
          - step: start
            tool:
              kind: noop
        """;

    /// <summary>An exclusive branch on the workload: big numbers go one way, small ones the other.</summary>
    public static string Branch(string path) => $$$"""
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: branch
          path: {{{path}}}
        workload:
          amount: 5
        workflow:
          - step: start
            tool:
              kind: noop
            next:
              spec:
                mode: exclusive
              arcs:
                - step: big
                  when: "{{ workload.amount > 10 }}"
                - step: small
          - step: big
            tool:
              kind: noop
          - step: small
            tool:
              kind: noop
        """;
}
