/** `pyleash completion bash`: a static completion script generated from the command tree. */
import type { Command } from "commander";

/** Bash completion for every command, its long options and the values of options with fixed choices. */
export function bashCompletion(program: Command): string {
  const commands = program.commands.map((c) => c.name());
  const optionCases: string[] = [];
  const valueCases: string[] = [];
  for (const command of program.commands) {
    const flags = [...command.options.map((o) => o.long).filter((f): f is string => Boolean(f)), "--help"];
    optionCases.push(`    ${command.name()}) words="${flags.join(" ")}" ;;`);
    for (const option of command.options) {
      if (option.long && option.argChoices)
        valueCases.push(`    "${command.name()} ${option.long}") words="${option.argChoices.join(" ")}" ;;`);
    }
    const argument = command.registeredArguments[0];
    if (argument?.argChoices) valueCases.push(`    "${command.name()} ${command.name()}") words="${argument.argChoices.join(" ")}" ;;`);
  }
  return `# bash completion for pyleash; load it with: eval "$(pyleash completion bash)"
_pyleash() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${[...commands, "help", "--help", "--version"].join(" ")}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]} $prev" in
${valueCases.join("\n")}
  esac
  if [ -z "$words" ] && [[ "$cur" == -* ]]; then
    case "\${COMP_WORDS[1]}" in
${optionCases.join("\n")}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _pyleash pyleash
`;
}
