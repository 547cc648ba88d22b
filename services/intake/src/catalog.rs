//! CatalogService: the reference data applicants and staff choose from.

use acikkapi_domain::catalog::Catalog;
use acikkapi_proto::v1 as pb;
use pb::catalog_service_server::CatalogService;
use tonic::{Request, Response, Status};

pub struct CatalogApi {
    pub(crate) catalog: &'static Catalog,
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn list_provinces(
        &self,
        _: Request<pb::ListProvincesRequest>,
    ) -> Result<Response<pb::ListProvincesResponse>, Status> {
        let provinces = self
            .catalog
            .provinces
            .iter()
            .map(|p| pb::Province {
                code: u32::from(p.code),
                name: p.name.clone(),
                region: p.region.clone(),
                metropolitan: p.metropolitan,
            })
            .collect();
        Ok(Response::new(pb::ListProvincesResponse { provinces }))
    }

    async fn list_districts(
        &self,
        req: Request<pb::ListDistrictsRequest>,
    ) -> Result<Response<pb::ListDistrictsResponse>, Status> {
        let code = req.get_ref().province_code;
        let province = self.catalog.province(code).ok_or_else(|| {
            acikkapi_platform::error::invalid_field(
                "province_code",
                format!("unknown province {code} (plate codes 1..81)"),
            )
        })?;
        let districts = self
            .catalog
            .districts_of(province.code)
            .map(|d| pb::District {
                code: d.code,
                province_code: u32::from(d.province),
                name: d.name.clone(),
            })
            .collect();
        Ok(Response::new(pb::ListDistrictsResponse { districts }))
    }

    async fn list_topics(
        &self,
        _: Request<pb::ListTopicsRequest>,
    ) -> Result<Response<pb::ListTopicsResponse>, Status> {
        let topics = self
            .catalog
            .topics
            .iter()
            .map(|t| pb::Topic {
                code: t.code.clone(),
                name: t.name.clone(),
                name_en: t.name_en.clone(),
            })
            .collect();
        Ok(Response::new(pb::ListTopicsResponse { topics }))
    }

    async fn list_application_types(
        &self,
        req: Request<pb::ListApplicationTypesRequest>,
    ) -> Result<Response<pb::ListApplicationTypesResponse>, Status> {
        let topic = req.get_ref().topic_code.trim();
        if !topic.is_empty() && self.catalog.topic(topic).is_none() {
            return Err(acikkapi_platform::error::invalid_field(
                "topic_code",
                format!("unknown topic {topic:?}"),
            ));
        }
        let types = self
            .catalog
            .types
            .iter()
            .filter(|t| topic.is_empty() || t.topic == topic)
            .map(|t| pb::ApplicationType {
                code: t.code.clone(),
                topic_code: t.topic.clone(),
                name: t.name.clone(),
            })
            .collect();
        Ok(Response::new(pb::ListApplicationTypesResponse { types }))
    }
}
