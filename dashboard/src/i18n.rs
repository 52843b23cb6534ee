//! Every string the dashboard shows, in English and Chinese. `Text` names a string; `Lang` picks
//! the column. The table is one macro invocation, so a string cannot exist in one language only.

use shared::keys::{KeyState, QuotaUnit};
use shared::settings::RoutingStrategy;

/// The dashboard's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// From `navigator.language` (`zh`, `zh-CN`, `zh-Hant-TW`… are Chinese; the rest English).
    pub fn from_browser(language: &str) -> Lang {
        if language.trim().to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The code kept in local storage and put in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh-CN" => Some(Lang::Zh),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    pub fn t(self, text: Text) -> &'static str {
        match self {
            Lang::En => text.en(),
            Lang::Zh => text.zh(),
        }
    }
}

macro_rules! texts {
    ($($name:ident => $en:literal, $zh:literal;)*) => {
        /// A string of the dashboard.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Text {
            $($name,)*
        }

        impl Text {
            /// Every string, for the tests.
            #[cfg(test)]
            pub const ALL: &'static [Text] = &[$(Text::$name,)*];

            pub fn en(self) -> &'static str {
                match self {
                    $(Text::$name => $en,)*
                }
            }

            pub fn zh(self) -> &'static str {
                match self {
                    $(Text::$name => $zh,)*
                }
            }
        }
    };
}

texts! {
    // Frame
    Brand => "api-proxy", "api-proxy";
    Tagline => "LLM gateway", "LLM 网关";
    NavOverview => "Overview", "概览";
    NavKeys => "Keys", "密钥";
    NavLogs => "Logs", "日志";
    NavProviders => "Providers & models", "服务商与模型";
    NavRouting => "Routing", "路由";
    NavSettings => "Settings", "设置";
    NavClientKeys => "Client keys", "客户端密钥";
    SignOut => "Sign out", "退出登录";
    OtherLanguage => "中文", "English";
    SwitchLanguage => "Switch language", "切换语言";
    ConnLive => "Live", "实时";
    ConnConnecting => "Connecting…", "连接中…";
    ConnRetrying => "Offline, retrying", "已断开，正在重连";
    ConnIdle => "Not connected", "未连接";
    DatabaseReadOnly => "The database is read-only: calls are still proxied with the stored keys, but changes and call logs are not saved. Make the data folder writable and restart api-proxy.", "数据库为只读：调用仍用已保存的密钥代理，但修改和调用日志不会保存。请让数据目录可写并重启 api-proxy。";
    DatabaseBusy => "The database is locked by another process: calls are still proxied, but changes and call logs wait until the lock is gone.", "数据库被其他进程锁定：调用仍照常代理，但修改和调用日志要等锁释放后才能保存。";
    DatabaseFull => "The disk holding the database is full: calls are still proxied, but changes and call logs are not saved until there is space.", "数据库所在磁盘已满：调用仍照常代理，但在腾出空间之前修改和调用日志不会保存。";
    PageNotFound => "There is no such page.", "页面不存在。";
    BackToOverview => "Back to the overview", "返回概览";

    // Client keys
    AddClientKey => "New client key", "新建客户端密钥";
    EditClientKey => "Edit client key", "编辑客户端密钥";
    NoClientKeys => "No client keys yet. Create one for each person or program that calls /v1, with its own limits.", "还没有客户端密钥。为每个调用 /v1 的人或程序各建一个，并设置各自的限额。";
    ClientKeyCreated => "Client key created", "客户端密钥已创建";
    ClientKeyShownOnce => "Copy the key now: it is shown only this once.", "请立即复制该密钥：它只显示这一次。";
    BudgetUsd => "Budget (USD)", "预算（美元）";
    BudgetPeriodLabel => "Budget period", "预算周期";
    PeriodTotal => "in total", "总计";
    PeriodDaily => "per day", "每天";
    PeriodMonthly => "per month", "每月";
    RpmLabel => "Requests per minute", "每分钟请求数";
    TpmLabel => "Tokens per minute", "每分钟 Token 数";
    MaxParallelLabel => "Requests in flight", "最大并发请求";
    AllowedModels => "Allowed models (comma-separated, * matches anything)", "允许的模型（逗号分隔，* 匹配任意字符）";
    AllModels => "all models", "全部模型";
    ExpiresAtLabel => "Expires", "过期时间";
    NoteLabel => "Note", "备注";
    EmptyMeansNoLimit => "Empty: no limit", "留空表示不限";
    Revoke => "Revoke", "吊销";
    RevokeClientKeyQuestion => "Revoke this client key?", "吊销此客户端密钥？";
    RevokeClientKeyNote => "Its next call gets 401. This cannot be undone.", "它的下一次调用将返回 401。此操作无法撤销。";
    RevokedWord => "revoked", "已吊销";
    ExpiredWord => "expired", "已过期";
    DisabledWord => "disabled", "已停用";
    ActiveWord => "active", "可用";
    LimitsLabel => "Limits", "限额";
    SpentLabel => "Spent", "已花费";

    // Common words
    Loading => "Loading…", "加载中…";
    Retry => "Retry", "重试";
    Cancel => "Cancel", "取消";
    Save => "Save", "保存";
    Saving => "Saving…", "保存中…";
    Delete => "Delete", "删除";
    Edit => "Edit", "编辑";
    Close => "Close", "关闭";
    Add => "Add", "添加";
    Remove => "Remove", "移除";
    Yes => "yes", "是";
    No => "no", "否";
    NoData => "No data yet", "暂无数据";
    Nothing => "none", "无";

    // Errors
    ErrNetwork => "The server does not answer", "服务器无响应";
    ErrDecode => "The server's answer could not be read", "无法解析服务器的响应";
    ErrNotAvailable => "This server does not offer this yet", "此服务器版本尚不支持该功能";
    ErrServer => "The server refused", "服务器拒绝了请求";
    InvalidField => "Check this field", "请检查此字段";

    // Sign-in
    SignInTitle => "Sign in", "登录";
    SignInHint => "Enter the admin token: ADMIN_TOKEN, or the file data/admin.token.", "请输入管理令牌：ADMIN_TOKEN 或 data/admin.token 文件中的内容。";
    AdminToken => "Admin token", "管理令牌";
    SignInButton => "Sign in", "登录";
    Checking => "Checking…", "验证中…";
    WrongToken => "Wrong admin token", "管理令牌错误";
    SessionEnded => "The session ended: sign in again.", "会话已失效，请重新登录。";

    // Overview
    RequestsPerSecond => "Requests / s", "每秒请求数";
    SuccessRate => "Success rate", "成功率";
    LatencyP50 => "p50 latency", "p50 延迟";
    LatencyP95 => "p95 latency", "p95 延迟";
    InFlight => "In flight", "进行中";
    CallsToday => "Calls today", "今日调用";
    TokensToday => "Tokens today", "今日 Token";
    CostToday => "Cost today", "今日费用";
    CallsTotal => "Calls in total", "累计调用";
    TokensTotal => "Tokens in total", "累计 Token";
    CostTotal => "Cost in total", "累计费用";
    LastMinute => "last minute", "最近一分钟";
    LastTenSeconds => "last 10 s", "最近 10 秒";
    ThisInstanceOnly => "this instance of several", "多个实例中的本实例";
    WaitingForLive => "Waiting for the live feed…", "等待实时数据…";
    ChartCalls => "Calls", "调用次数";
    ChartCost => "Cost", "费用";
    ChartLatency => "Latency p50 / p95", "延迟 p50 / p95";
    RangeHour => "Last hour", "最近一小时";
    RangeDay => "Last day", "最近一天";
    RangeMonth => "Last 30 days", "最近 30 天";
    TopKeys => "Top keys by cost", "费用最高的密钥";
    TopModels => "Top models by cost", "费用最高的模型";
    Calls => "Calls", "调用";
    Cost => "Cost", "费用";
    ErrorsWord => "Errors", "错误";
    Tokens => "Tokens", "Token";
    Peak => "max", "最大";

    // Keys
    AddKey => "Add key", "添加密钥";
    EditKey => "Edit key", "编辑密钥";
    Provider => "Provider", "服务商";
    Name => "Name", "名称";
    Key => "Key", "密钥";
    State => "State", "状态";
    Quota => "Quota", "配额";
    Latency => "Latency", "延迟";
    Actions => "Actions", "操作";
    Enable => "Enable", "启用";
    Disable => "Disable", "停用";
    Test => "Test", "测试";
    Testing => "Testing…", "测试中…";
    TestOk => "Test passed", "测试通过";
    TestFailed => "Test failed", "测试失败";
    DeleteKeyQuestion => "Delete this key?", "删除此密钥？";
    DeleteKeyNote => "The key is removed from routing at once; its call logs are kept.", "该密钥将立即停止参与路由；其调用日志会保留。";
    NoKeys => "No keys yet: add one.", "还没有密钥，请添加一个。";
    Until => "until", "直到";
    RunsOut => "runs out", "预计耗尽";
    PerHour => "/ h", "/ 小时";
    NoQuota => "no quota", "无配额";
    Resets => "refills", "重置";
    Left => "left", "剩余";
    StateActive => "active", "正常";
    StateDisabled => "disabled", "已停用";
    StateQuotaExhausted => "quota exhausted", "配额耗尽";
    StateAuthDead => "auth failed", "认证失效";
    StateThrottled => "throttled", "限流中";
    StateCooling => "cooling down", "冷却中";
    StateProbing => "probing", "探测中";
    StateSealedMismatch => "secret does not open", "密钥无法解密";
    ApiKey => "API key", "API 密钥";
    ApiKeyKeep => "Leave empty to keep the current key; needed again when the base URL changes.", "留空则保留当前密钥；修改 Base URL 时需重新填写。";
    BaseUrl => "Base URL", "Base URL";
    BaseUrlHint => "Optional: the provider's address by default.", "可选：默认使用服务商的地址。";
    Models => "Models", "模型";
    ModelsHint => "Comma-separated. Empty: the provider's models; * serves any model.", "逗号分隔。留空表示服务商的全部模型；* 表示任意模型。";
    Priority => "Priority", "优先级";
    PriorityHint => "Lower goes first; empty: after the keys that have one.", "数值越小越优先；留空则排在有优先级的密钥之后。";
    Weight => "Weight", "权重";
    Enabled => "Enabled", "启用";
    CostPerRequest => "Fee per request (USD)", "每次请求费用（美元）";
    QuotaTotal => "Quota", "配额总量";
    QuotaRemaining => "Quota left", "剩余配额";
    QuotaUnit => "Quota unit", "配额单位";
    UnitRequests => "requests", "请求数";
    UnitTokens => "tokens", "Token 数";
    UnitUsd => "USD", "美元";
    QuotaReset => "Quota refill", "配额重置";
    ResetNever => "never", "不重置";
    ResetDaily => "daily", "每天";
    ResetMonthly => "monthly", "每月";
    AzureApiVersion => "Azure api-version", "Azure api-version";
    AzureDeployments => "Azure deployments (model=deployment, one per line)", "Azure 部署（模型=部署名，每行一个）";
    Requests => "Requests", "请求";

    // Logs
    Time => "Time", "时间";
    Model => "Model", "模型";
    Status => "Status", "状态";
    Attempts => "Attempts", "尝试次数";
    AnyKey => "Any key", "全部密钥";
    AnyProvider => "Any provider", "全部服务商";
    AnyEndpoint => "Any endpoint", "全部接口";
    AnyStatus => "Any status", "全部状态";
    StatusSuccess => "Succeeded", "成功";
    StatusError => "Failed", "失败";
    Since => "From", "开始时间";
    UntilTime => "To", "结束时间";
    ModelFilter => "Model", "模型";
    ResetFilters => "Reset filters", "重置筛选";
    LoadMore => "Load more", "加载更多";
    NoLogs => "No calls yet.", "暂无调用记录。";
    AllLoaded => "That is all.", "已全部加载。";
    CallDetails => "Call details", "调用详情";
    RequestId => "Request id", "请求 ID";
    Endpoint => "Endpoint", "接口";
    Stream => "Stream", "流式";
    PromptTokens => "Prompt tokens", "输入 Token";
    CompletionTokens => "Completion tokens", "输出 Token";
    CachedTokens => "Cached tokens", "缓存 Token";
    TotalTokens => "Total tokens", "总 Token";
    Prices => "Prices (USD per 1M tokens)", "价格（美元 / 百万 Token）";
    PriceInput => "Input", "输入";
    PriceOutput => "Output", "输出";
    PriceCachedInput => "Cached input", "缓存输入";
    PriceCacheWrite => "Cache write", "缓存写入";
    PerCall => "Per call", "每次调用";
    TimeToFirstByte => "Time to first byte", "首字节时间";
    AttemptTrail => "Attempts", "尝试记录";
    ErrorMessage => "Error", "错误";
    LiveBadge => "live", "实时";
    OpeningDetails => "Waiting for the call to be stored…", "等待调用记录写入…";

    // Providers
    Format => "Format", "格式";
    Supported => "supported", "已支持";
    NotSupported => "not supported yet", "暂不支持";
    KeysCount => "keys", "个密钥";
    ContextWindow => "Context", "上下文";
    MaxOutput => "Max output", "最大输出";
    Capabilities => "Capabilities", "能力";
    CapTools => "tools", "工具调用";
    CapVision => "vision", "视觉";
    CapStreaming => "streaming", "流式";
    CapJson => "JSON mode", "JSON 模式";
    InputPrice => "Input $/1M", "输入 $/百万";
    OutputPrice => "Output $/1M", "输出 $/百万";
    ServedBy => "Served by", "可用密钥";
    FilterModels => "Filter models…", "筛选模型…";

    // Routing
    RoutingIntro => "For the chosen model: every key's bid now, why filtered keys cannot serve, and the winner.", "针对所选模型：每个密钥当前的竞价、被排除的原因以及胜出的密钥。";
    Strategy => "Strategy", "策略";
    Tier => "Priority tier", "优先级层";
    Winner => "Winner", "胜出";
    NoWinner => "No key can serve this model now.", "当前没有可以服务该模型的密钥。";
    Filtered => "Filtered out", "已排除";
    ScoreQuota => "Quota", "配额";
    ScoreCost => "Cost", "成本";
    ScoreLatency => "Latency", "延迟";
    ScoreHeadroom => "Headroom", "余量";
    ScoreTotal => "Total", "总分";
    EstimatedCost => "Est. cost / call", "单次预估费用";
    UpdatesLive => "Updates every few seconds and on live events.", "每隔几秒及有实时事件时更新。";
    ChooseModel => "Choose a model", "请选择模型";
    StrategyBalanced => "balanced", "均衡";
    StrategyCost => "cheapest", "成本优先";
    StrategyQuota => "most quota", "配额优先";
    StrategyLatency => "fastest", "延迟优先";
    StrategyRoundRobin => "round robin", "轮询";
    StrategyWeighted => "weighted", "加权轮询";

    // Settings
    RoutingStrategy => "Routing strategy", "路由策略";
    PerModelStrategies => "Per-model strategies", "按模型设置策略";
    MaxAttempts => "Max attempts per request (failover)", "每个请求最多尝试次数（故障转移）";
    FirstByteTimeout => "First byte timeout (ms)", "首字节超时（毫秒）";
    StreamIdleTimeout => "Stream idle timeout (ms)", "流式空闲超时（毫秒）";
    ModelAliases => "Model aliases", "模型别名";
    Alias => "Alias", "别名";
    TargetModel => "Routed as", "实际路由到";
    LogRetention => "Log retention (days, 0 keeps forever)", "日志保留天数（0 为永久保留）";
    SettingsSaved => "Settings saved.", "设置已保存。";
    Timeouts => "Timeouts", "超时";
    ConversationAffinity => "Conversation affinity: a conversation stays on the key that served it (prompt cache hits)", "会话亲和：同一会话固定使用之前服务它的密钥（提高提示缓存命中率）";
    Logging => "Call logs", "调用日志";
    StoreCallLogs => "Keep one log row per call (statistics are kept either way)", "为每次调用保存日志（统计数据始终保留）";
}

/// The words for the shared enums the pages show.
impl Text {
    pub fn of_strategy(strategy: RoutingStrategy) -> Text {
        match strategy {
            RoutingStrategy::Balanced => Text::StrategyBalanced,
            RoutingStrategy::Cost => Text::StrategyCost,
            RoutingStrategy::Quota => Text::StrategyQuota,
            RoutingStrategy::Latency => Text::StrategyLatency,
            RoutingStrategy::RoundRobin => Text::StrategyRoundRobin,
            RoutingStrategy::Weighted => Text::StrategyWeighted,
        }
    }

    pub fn of_key_state(state: KeyState) -> Text {
        match state {
            KeyState::Active => Text::StateActive,
            KeyState::Disabled => Text::StateDisabled,
            KeyState::QuotaExhausted => Text::StateQuotaExhausted,
            KeyState::AuthDead => Text::StateAuthDead,
            KeyState::Throttled => Text::StateThrottled,
            KeyState::Cooling => Text::StateCooling,
            KeyState::Probing => Text::StateProbing,
            KeyState::SealedMismatch => Text::StateSealedMismatch,
        }
    }

    pub fn of_quota_unit(unit: QuotaUnit) -> Text {
        match unit {
            QuotaUnit::Requests => Text::UnitRequests,
            QuotaUnit::Tokens => Text::UnitTokens,
            QuotaUnit::Usd => Text::UnitUsd,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn browser_languages() {
        assert_eq!(Lang::from_browser("zh-CN"), Lang::Zh);
        assert_eq!(Lang::from_browser("zh"), Lang::Zh);
        assert_eq!(Lang::from_browser("ZH-tw"), Lang::Zh);
        assert_eq!(Lang::from_browser("en-US"), Lang::En);
        assert_eq!(Lang::from_browser("fr"), Lang::En);
        assert_eq!(Lang::from_browser(""), Lang::En);
    }

    #[test]
    fn codes_round_trip() {
        for lang in [Lang::En, Lang::Zh] {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
            assert_eq!(lang.other().other(), lang);
        }
        assert_eq!(Lang::from_code("de"), None);
    }

    #[test]
    fn every_string_exists_in_both_languages() {
        for text in Text::ALL {
            assert!(!text.en().trim().is_empty(), "{text:?} has no English");
            assert!(!text.zh().trim().is_empty(), "{text:?} has no Chinese");
        }
    }

    #[test]
    fn chinese_strings_are_translated() {
        // Names and technical terms that read the same in both.
        let same: HashSet<Text> = [
            Text::Brand,
            Text::Tokens,
            Text::BaseUrl,
            Text::AzureApiVersion,
        ]
        .into_iter()
        .collect();
        for text in Text::ALL {
            if same.contains(text) {
                continue;
            }
            assert!(
                !text.zh().is_ascii() || *text == Text::OtherLanguage,
                "{text:?} is not translated: {:?}",
                text.zh()
            );
            assert_ne!(text.en(), text.zh(), "{text:?}");
        }
        assert_eq!(Lang::En.t(Text::OtherLanguage), "中文");
        assert_eq!(Lang::Zh.t(Text::OtherLanguage), "English");
    }

    #[test]
    fn strings_are_unique_per_language_within_navigation() {
        let nav = [
            Text::NavOverview,
            Text::NavKeys,
            Text::NavLogs,
            Text::NavProviders,
            Text::NavRouting,
            Text::NavSettings,
        ];
        for lang in [Lang::En, Lang::Zh] {
            let labels: HashSet<&str> = nav.iter().map(|t| lang.t(*t)).collect();
            assert_eq!(labels.len(), nav.len());
        }
    }
}
