global using NoEtl.Orchestration;
global using NoEtl.Orchestration.Engine;
global using NoEtl.Orchestration.Playbooks;
