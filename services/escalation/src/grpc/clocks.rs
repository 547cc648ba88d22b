//! An application's clock and the overdue and approaching lists.

use super::*;

impl Escalation {
    pub(super) async fn get_sla(
        &self,
        req: Request<pb::GetSlaRequest>,
    ) -> Result<Response<pb::Sla>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let k = self
            .visible(&req.get_ref().application_number, &scope)
            .await?;
        let db = &self.platform.db;
        let cals = Calendars::load(db).await?;
        let policies = Policies::load(db).await?;
        Ok(Response::new(self.sla(&k, &cals, &policies, true).await?))
    }

    pub(super) async fn list_overdue(
        &self,
        req: Request<pb::ListOverdueRequest>,
    ) -> Result<Response<pb::ListSlaResponse>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let r = req.into_inner();
        let f = narrow(&scope, r.scope.as_ref())?;
        Ok(Response::new(
            self.list(&f, i64::MIN + 1, self.now() + 1, r.page).await?,
        ))
    }

    pub(super) async fn list_approaching(
        &self,
        req: Request<pb::ListApproachingRequest>,
    ) -> Result<Response<pb::ListSlaResponse>, Status> {
        let scope = Scope::of(&*caller(&req)?);
        let r = req.into_inner();
        let f = narrow(&scope, r.scope.as_ref())?;
        if !(1..=30).contains(&r.within_working_days) {
            return Err(invalid("within_working_days", "between 1 and 30"));
        }
        let cals = Calendars::load(&self.platform.db).await?;
        // The window in the scope's province calendar (national for wider scopes).
        let province = if f.province != 0 {
            f.province
        } else {
            f.district / 1000
        };
        let now = self.now();
        let until = cals
            .for_province(province)
            .add_working(
                now,
                i64::from(r.within_working_days) * DAY_MINUTES,
                self.arife(),
            )
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(
            self.list(&f, now + 1, until + 1, r.page).await?,
        ))
    }
}
