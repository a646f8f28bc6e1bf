"""Task planning (no rclpy): instructions in English or Chinese -> validated, labelled plans.

Entry point (the task runner, the console and planner_node call it)::

    from embodied_stack.planning.planner import plan_instruction
    from embodied_stack.planning.offline import OfflineBackend
    from embodied_stack.planning.llm import LlmBackend, LlmConfig
    plan = plan_instruction(text, objects, backend=OfflineBackend(), robot_state=state,
                            registry=registry, redlines=redlines)

Modules: lexer/vocab/splitter/grammar (the offline language front end), references
(resolution against perception), intents/draft/offline (the offline planner), screen
(harmful requests), validate/skills (untrusted steps), llm/prompt (OpenAI-compatible
backend), scripted_endpoint (a loopback chat-completions server), approvals (what
waits for an operator), bench (`embodied-stack bench planner`).
"""
