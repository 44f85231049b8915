# bash completion for ptbsteerctl (installed as share/bash-completion/completions/ptbsteerctl).
# Group names come from the running ptbsteer (`ptbsteerctl groups --names`), quietly: no token,
# no answer, no names.
_ptbsteerctl() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }
    local options="--url --token-file --json --help"
    local commands="groups group decide reload capture counters"
    case "$prev" in
        --url) return ;;
        --token-file) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
        --what) mapfile -t COMPREPLY < <(compgen -W "drops all" -- "$cur"); return ;;
    esac
    # The command and its action: the first words that are not options or their values.
    local i command="" action="" skip=0
    for ((i = 1; i < cword; i++)); do
        if ((skip)); then skip=0; continue; fi
        case "${words[i]}" in
            --url | --token-file) skip=1 ;;
            -*) ;;
            *) if [[ -z $command ]]; then command=${words[i]}; elif [[ -z $action ]]; then action=${words[i]}; fi ;;
        esac
    done
    local list
    case "$command" in
        "") list="$options $commands" ;;
        groups) list="--names" ;;
        group)
            if [[ -z $action ]]; then list="show set delete"
            elif [[ $prev == "$action" ]]; then
                list=$(ptbsteerctl groups --names 2>/dev/null)
            elif [[ $action == set ]]; then
                mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return
            fi ;;
        capture)
            if [[ -z $action ]]; then list="start stop status"
            elif [[ $action == start ]]; then list="--file --what --max-bytes"; fi ;;
        decide) list="--flow-label tcp udp sctp icmp icmpv6" ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W "$list" -- "$cur")
}
complete -F _ptbsteerctl ptbsteerctl
