//! `ReportingService`: figures for a scope within the caller's own and a
//! period of receipt, cached per province; the CSV export streamed page by
//! page.

use crate::cache::cached;
use crate::figures::{self, Dimension, Filter, Granularity, Order};
use acikkapi_platform::audit::Actor;
use acikkapi_platform::auth::{Scope, caller, narrow, origin};
use acikkapi_platform::store::Db;
use acikkapi_platform::{Platform, PlatformError};
use acikkapi_proto::v1 as pb;
use acikkapi_proto::v1::reporting_service_server::ReportingService;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub struct Reporting {
    pub platform: Platform,
}

fn invalid(field: &str, message: &str) -> Status {
    acikkapi_platform::error::invalid_field(field, message)
}

fn ms(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

/// A request's filter: its scope narrowed to the caller's, its period.
fn filter<T>(req: &Request<T>, r: Option<&pb::ReportRequest>) -> Result<Filter, Status> {
    let scope = Scope::of(&*caller(req)?);
    let r = r.cloned().unwrap_or_default();
    let area = narrow(&scope, r.scope.as_ref())?;
    let period = r.period.unwrap_or_default();
    let from_ms = period.from.as_ref().map(ms);
    let to_ms = period.to.as_ref().map(ms);
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && f >= t
    {
        return Err(invalid("period", "from must be before to"));
    }
    let topic = r.topic_code.trim().to_owned();
    if !topic.is_empty()
        && acikkapi_domain::catalog::Catalog::builtin()
            .topic(&topic)
            .is_none()
    {
        return Err(invalid("topic_code", "no such topic"));
    }
    if pb::Channel::try_from(r.channel).is_err() {
        return Err(invalid("channel", "no such channel"));
    }
    Ok(Filter {
        province: area.province,
        district: area.district,
        unit: area.unit,
        from_ms,
        to_ms,
        topic,
        channel: r.channel,
    })
}

/// Entries a ranking returns: 10 by default, at most 100.
fn limit(r: Option<&pb::ReportRequest>) -> Result<usize, Status> {
    match r.map_or(0, |r| r.limit) {
        0 => Ok(10),
        n @ 1..=100 => Ok(n as usize),
        _ => Err(invalid("limit", "at most 100")),
    }
}

/// The province whose events change a filter's answer (0: any event).
fn province_of(f: &Filter) -> u32 {
    if f.province != 0 {
        f.province
    } else {
        f.district / 1000
    }
}

impl Reporting {
    /// `compute` is given the store and the filter, owned: a stale answer's
    /// refresh runs after the request has been answered.
    async fn cached<M, F, Fut>(
        &self,
        f: &Filter,
        query: String,
        compute: F,
    ) -> Result<Response<M>, Status>
    where
        M: prost::Message + Default + 'static,
        F: FnOnce(Db, Filter) -> Fut,
        Fut: Future<Output = Result<M, PlatformError>> + Send + 'static,
    {
        let (db, owned) = (self.platform.db.clone(), f.clone());
        Ok(Response::new(
            cached(
                &self.platform,
                province_of(f),
                &format!("{query}|{f:?}"),
                move || compute(db, owned),
            )
            .await?,
        ))
    }
}

#[tonic::async_trait]
impl ReportingService for Reporting {
    async fn get_totals(
        &self,
        req: Request<pb::ReportRequest>,
    ) -> Result<Response<pb::Totals>, Status> {
        let f = filter(&req, Some(req.get_ref()))?;
        self.cached(&f, "totals".into(), |db, f| async move {
            Ok(figures::totals(&db, &f).await?.to_proto())
        })
        .await
    }

    async fn get_time_series(
        &self,
        req: Request<pb::TimeSeriesRequest>,
    ) -> Result<Response<pb::TimeSeries>, Status> {
        let f = filter(&req, req.get_ref().report.as_ref())?;
        let g = match pb::Granularity::try_from(req.get_ref().granularity) {
            Ok(pb::Granularity::Unspecified | pb::Granularity::Day) => Granularity::Day,
            Ok(pb::Granularity::Week) => Granularity::Week,
            Ok(pb::Granularity::Month) => Granularity::Month,
            Err(_) => return Err(invalid("granularity", "day, week or month")),
        };
        self.cached(&f, format!("series|{g:?}"), move |db, f| async move {
            Ok(pb::TimeSeries {
                points: figures::time_series(&db, &f, g).await?,
            })
        })
        .await
    }

    async fn get_top_types(
        &self,
        req: Request<pb::ReportRequest>,
    ) -> Result<Response<pb::TopTypes>, Status> {
        let f = filter(&req, Some(req.get_ref()))?;
        let n = limit(Some(req.get_ref()))?;
        self.cached(&f, format!("top|{n}"), move |db, f| async move {
            let rank = |by, groups| figures::rank(by, groups, Order::Received, false, 0, n);
            Ok(pb::TopTypes {
                types: rank(
                    Dimension::Type,
                    figures::counts_by(&db, &f, Some(Dimension::Type)).await?,
                ),
                topics: rank(
                    Dimension::Topic,
                    figures::counts_by(&db, &f, Some(Dimension::Topic)).await?,
                ),
            })
        })
        .await
    }

    async fn get_problem_areas(
        &self,
        req: Request<pb::ProblemAreasRequest>,
    ) -> Result<Response<pb::Ranking>, Status> {
        let r = req.get_ref();
        let f = filter(&req, r.report.as_ref())?;
        let n = limit(r.report.as_ref())?;
        let min = match r.min_concluded {
            0 => 10,
            m => u64::from(m),
        };
        self.cached(&f, format!("problems|{n}|{min}"), move |db, f| async move {
            let groups = figures::counts_by(&db, &f, Some(Dimension::Type)).await?;
            Ok(pb::Ranking {
                entries: figures::problem_areas(groups, min, n),
            })
        })
        .await
    }

    async fn get_ranking(
        &self,
        req: Request<pb::RankingRequest>,
    ) -> Result<Response<pb::Ranking>, Status> {
        let r = req.get_ref();
        let f = filter(&req, r.report.as_ref())?;
        let n = limit(r.report.as_ref())?;
        let by = Dimension::parse(&r.by)
            .ok_or_else(|| invalid("by", "province, district, unit, topic, type or channel"))?;
        let order = Order::parse(&r.order).ok_or_else(|| {
            invalid(
                "order",
                "received, positive_rate, negative_rate or within_sla_rate",
            )
        })?;
        let (ascending, min) = (r.ascending, u64::from(r.min_concluded));
        self.cached(
            &f,
            format!("ranking|{by:?}|{order:?}|{ascending}|{min}|{n}"),
            move |db, f| async move {
                let groups = figures::counts_by(&db, &f, Some(by)).await?;
                Ok(pb::Ranking {
                    entries: figures::rank(by, groups, order, ascending, min, n),
                })
            },
        )
        .await
    }

    async fn get_satisfaction(
        &self,
        req: Request<pb::ReportRequest>,
    ) -> Result<Response<pb::Satisfaction>, Status> {
        let f = filter(&req, Some(req.get_ref()))?;
        self.cached(&f, "satisfaction".into(), |db, f| async move {
            figures::satisfaction(&db, &f).await
        })
        .await
    }

    type ExportApplicationsStream = ReceiverStream<Result<pb::ExportChunk, Status>>;

    async fn export_applications(
        &self,
        req: Request<pb::ReportRequest>,
    ) -> Result<Response<Self::ExportApplicationsStream>, Status> {
        let f = filter(&req, Some(req.get_ref()))?;
        // Who exported what stays on record.
        let actor = Actor::of(&*caller(&req)?, Some(&origin(&req)));
        let mut t = self.platform.db.begin().await?;
        t.insert_audit(&[actor.entry("report.export", "applications", format!("{f:?}"))])
            .await?;
        t.commit().await?;
        // Two pages in flight at most: a slow reader slows the queries, and
        // memory holds a page or two whatever the export's size.
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let db = self.platform.db.clone();
        let rows = i64::from(self.platform.settings.reporting.export_page_rows.max(1));
        tokio::spawn(async move {
            let header = pb::ExportChunk {
                csv: figures::EXPORT_HEADER.as_bytes().to_vec(),
            };
            if tx.send(Ok(header)).await.is_err() {
                return;
            }
            let mut cursor = None;
            loop {
                match figures::export_page(&db, &f, &cursor, rows).await {
                    Ok((csv, next)) => {
                        if !csv.is_empty()
                            && tx
                                .send(Ok(pb::ExportChunk {
                                    csv: csv.into_bytes(),
                                }))
                                .await
                                .is_err()
                        {
                            return; // the caller went away
                        }
                        match next {
                            Some(c) => cursor = Some(c),
                            None => return,
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
